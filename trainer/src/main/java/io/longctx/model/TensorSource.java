package io.longctx.model;

import ai.djl.ndarray.NDArray;
import io.longctx.engine.Tensors;
import io.longctx.safetensors.SafetensorsFile;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Named tensors an export reads row slice by row slice: a checkpoint file, or tensors in memory. */
public interface TensorSource {
    List<String> names();

    long[] shape(String name);

    /** Rows [from, to) along the first dimension, as fp32. */
    float[] rows(String name, long from, long to);

    static TensorSource of(SafetensorsFile file) {
        return new TensorSource() {
            @Override
            public List<String> names() {
                return new ArrayList<>(file.tensors().keySet());
            }

            @Override
            public long[] shape(String name) {
                return file.entry(name).shape();
            }

            @Override
            public float[] rows(String name, long from, long to) {
                return file.readFloats(name, from, to);
            }
        };
    }

    static TensorSource of(Map<String, NDArray> tensors) {
        return new TensorSource() {
            @Override
            public List<String> names() {
                return new ArrayList<>(tensors.keySet());
            }

            @Override
            public long[] shape(String name) {
                return tensors.get(name).getShape().getShape();
            }

            @Override
            public float[] rows(String name, long from, long to) {
                return Tensors.rows(tensors.get(name), from, to);
            }
        };
    }
}
