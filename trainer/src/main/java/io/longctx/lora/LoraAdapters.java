package io.longctx.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.longctx.engine.Tensors;
import io.longctx.model.ModelConfig;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/** Creating adapter tensors and folding them into the base weights. */
public final class LoraAdapters {
    private LoraAdapters() {
    }

    /**
     * PEFT's initialisation: A uniform in +-1/sqrt(in) (kaiming-uniform with a = sqrt(5)), B zero, so W + s B A = W
     * at the start. Seeded.
     */
    public static Map<String, NDArray> init(ModelConfig config, LoraConfig lora, long seed, NDManager manager) {
        Random random = new Random(seed ^ 0x4c6f5241L);
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        lora.adapterShapes(config).forEach((name, shape) -> {
            float[] values = new float[Math.toIntExact(shape[0] * shape[1])];
            if (name.endsWith(".lora_A.weight")) {
                double bound = 1.0 / Math.sqrt(shape[1]);
                for (int i = 0; i < values.length; i++) {
                    values[i] = (float) ((random.nextDouble() * 2 - 1) * bound);
                }
            }
            tensors.put(name, Tensors.fromFloats(manager, values, new Shape(shape)));
        });
        return tensors;
    }

    /**
     * Rows [from, to) of W + scale B A, in double precision then rounded once: W (out, in) rows, B (out, r),
     * A (r, in), all row-major.
     */
    public static float[] mergedRows(float[] weightRows, float[] bRows, float[] a, int rank, int in, double scale) {
        int rows = weightRows.length / in;
        float[] out = new float[weightRows.length];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < in; j++) {
                double delta = 0;
                for (int k = 0; k < rank; k++) {
                    delta += (double) bRows[i * rank + k] * a[k * in + j];
                }
                out[i * in + j] = (float) (weightRows[i * in + j] + scale * delta);
            }
        }
        return out;
    }
}
