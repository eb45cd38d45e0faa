package io.longctx.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.longctx.engine.PlainAttention;
import io.longctx.engine.Tensors;
import io.longctx.safetensors.DType;
import io.longctx.safetensors.Float16;
import io.longctx.testing.TinyModels;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * BF16 and F16 checkpoints (DJL aborts the JVM on BF16 arrays) load by widening to fp32 in Java: their logits equal
 * those of the F32 model with the same rounded weights, and stay close to the unrounded original.
 */
class HalfPrecisionCheckpointTest {
    private static final int[] IDS = {1, 5, 9, 33, 17, 2, 60, 41, 8, 8, 3, 12};

    @TempDir
    Path tmp;

    private float[] logits(Path dir) {
        try (NDManager manager = NDManager.newBaseManager();
                LlamaWeights weights = LlamaWeights.load(dir, ModelConfig.load(dir), manager)) {
            LlamaModel model = new LlamaModel(weights, new PlainAttention());
            return model.logits(manager, Tensors.tokenRow(manager, IDS, 0, IDS.length), null).toFloatArray();
        }
    }

    private static Map<String, float[]> rounded(Map<String, float[]> weights, UnaryOperator<Float> round) {
        Map<String, float[]> out = new LinkedHashMap<>();
        weights.forEach((name, values) -> {
            float[] copy = new float[values.length];
            for (int i = 0; i < values.length; i++) {
                copy[i] = round.apply(values[i]);
            }
            out.put(name, copy);
        });
        return out;
    }

    @Test
    void bf16Checkpoint_givesF32LogitsWithinBf16Rounding() throws Exception {
        checkHalfType(DType.BF16, v -> Float16.bf16ToFloat(Float16.floatToBf16(v)), 0.05f);
    }

    @Test
    void f16Checkpoint_givesF32LogitsWithinF16Rounding() throws Exception {
        checkHalfType(DType.F16, v -> Float16.halfToFloat(Float16.floatToHalf(v)), 0.01f);
    }

    private void checkHalfType(DType dtype, UnaryOperator<Float> round, float closeToOriginal) throws Exception {
        ObjectNode config = TinyModels.llamaConfig();
        Map<String, float[]> weights = TinyModels.randomWeights(ModelConfig.parse(config, "test"), 7);
        TinyModels.write(tmp.resolve("f32"), config, weights, DType.F32);
        TinyModels.write(tmp.resolve("half"), config, weights, dtype);
        TinyModels.write(tmp.resolve("f32-rounded"), config, rounded(weights, round), DType.F32);

        float[] original = logits(tmp.resolve("f32"));
        float[] half = logits(tmp.resolve("half"));
        float[] roundedF32 = logits(tmp.resolve("f32-rounded"));
        // widening is exact, so the half checkpoint is the rounded-weights model
        assertArrayEquals(roundedF32, half, 1e-5f);
        // and rounding the weights moves the logits only by rounding-sized amounts
        float maxDiff = 0;
        for (int i = 0; i < original.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(original[i] - half[i]));
        }
        assertTrue(maxDiff > 0 && maxDiff < closeToOriginal, dtype + " max |logit diff| " + maxDiff);
    }
}
