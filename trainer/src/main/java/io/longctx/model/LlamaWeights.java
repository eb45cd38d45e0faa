package io.longctx.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.longctx.LongctxException;
import io.longctx.engine.Tensors;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The parameters of a decoder under their HF names, as fp32 NDArrays in torch-owned memory. */
public final class LlamaWeights implements AutoCloseable {
    private final ModelConfig config;
    private final NDManager manager;
    private final Map<String, NDArray> tensors;
    private final List<String> ignored;

    private LlamaWeights(ModelConfig config, NDManager manager, Map<String, NDArray> tensors, List<String> ignored) {
        this.config = config;
        this.manager = manager;
        this.tensors = tensors;
        this.ignored = ignored;
    }

    /** Validates every name, shape and dtype against the config first, then streams the tensors in. */
    public static LlamaWeights load(Path dir, ModelConfig config, NDManager parent) {
        return load(dir, config, parent, io.longctx.safetensors.RowSlices.DEFAULT_BYTES);
    }

    /** @param sliceBytes largest fp32 slice read at once (a tensor above it is read in row slices and joined) */
    static LlamaWeights load(Path dir, ModelConfig config, NDManager parent, long sliceBytes) {
        HfCheckpoint checkpoint = HfCheckpoint.locate(dir);
        List<String> ignored = checkpoint.validate(config);
        Map<String, long[]> shapes = config.expectedTensors();
        NDManager manager = parent.newSubManager();
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        try {
            checkpoint.load(config, (name, file) -> tensors.put(name, Tensors.fromSafetensors(manager, file, name,
                    sliceBytes, (from, to, data) -> requireFinite(dir, name, from * io.longctx.safetensors.RowSlices
                            .rowElements(shapes.get(name)), data))));
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
        return new LlamaWeights(config, manager, orderedAs(shapes, tensors), ignored);
    }

    /** A NaN or infinity in a weight makes every score NaN: refuse the model, naming the tensor. */
    static void requireFinite(Path dir, String name, long firstElement, ByteBuffer data) {
        FloatBuffer values = data.asFloatBuffer();
        int bad = 0;
        int first = -1;
        for (int i = 0; i < values.limit(); i++) {
            if (!Float.isFinite(values.get(i))) {
                bad++;
                if (first < 0) {
                    first = i;
                }
            }
        }
        if (bad > 0) {
            throw new LongctxException(dir + ": tensor '" + name + "' holds " + bad + " NaN or infinite value(s) "
                    + "(first at element " + (firstElement + first) + "); the weights are corrupt");
        }
    }

    /** Wraps arrays already in memory (random init, tests); every expected name must be present. */
    public static LlamaWeights of(ModelConfig config, NDManager manager, Map<String, NDArray> tensors) {
        Map<String, long[]> shapes = config.expectedTensors();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            NDArray array = tensors.get(e.getKey());
            if (array == null || !array.getShape().equals(new Shape(e.getValue()))) {
                throw new LongctxException("tensor '" + e.getKey() + "' missing or of the wrong shape");
            }
        }
        return new LlamaWeights(config, manager, orderedAs(shapes, tensors), List.of());
    }

    private static Map<String, NDArray> orderedAs(Map<String, long[]> shapes, Map<String, NDArray> tensors) {
        Map<String, NDArray> ordered = new LinkedHashMap<>();
        shapes.keySet().forEach(name -> ordered.put(name, tensors.get(name)));
        return Collections.unmodifiableMap(ordered);
    }

    public ModelConfig config() {
        return config;
    }

    public NDManager manager() {
        return manager;
    }

    /** All parameters in checkpoint order. */
    public Map<String, NDArray> tensors() {
        return tensors;
    }

    /** Checkpoint tensors that the architecture does not use (e.g. stored rotary buffers). */
    public List<String> ignored() {
        return ignored;
    }

    public NDArray get(String name) {
        NDArray array = tensors.get(name);
        if (array == null) {
            throw new IllegalArgumentException("no tensor " + name);
        }
        return array;
    }

    /** The tensor or null, for optional biases. */
    public NDArray optional(String name) {
        return tensors.get(name);
    }

    public NDArray outputHead() {
        return config.tieWordEmbeddings() ? get("model.embed_tokens.weight") : get("lm_head.weight");
    }

    @Override
    public void close() {
        manager.close();
    }
}
