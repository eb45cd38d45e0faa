package io.longctx.precision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.longctx.LongctxException;
import io.longctx.data.pack.PackedSequence;
import io.longctx.engine.Precision;
import io.longctx.engine.PrecisionOps;
import io.longctx.engine.SdpaAttention;
import io.longctx.engine.Tensors;
import io.longctx.model.LlamaModel;
import io.longctx.model.LlamaWeights;
import io.longctx.model.ModelConfig;
import io.longctx.rope.YarnScaling;
import io.longctx.testing.TinyModels;
import io.longctx.train.AdamW;
import io.longctx.train.OptimizerStep;
import io.longctx.train.Parameters;
import io.longctx.train.StepRunner;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * bf16 compute against fp32 on a tiny model: gradients within bf16 rounding, a 200-step loss curve within 2%, and
 * host-offloaded optimizer state giving exactly the in-place update.
 */
class MixedPrecisionTest {
    private static final ModelConfig CONFIG = ModelConfig.parse(TinyModels.llamaConfig()
            .put("num_hidden_layers", 2), "test").withRopeScaling(YarnScaling.of(2, 64));
    private NDManager manager;
    private SdpaAttention sdpa;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
        sdpa = SdpaAttention.create();
    }

    @AfterEach
    void tearDown() {
        sdpa.close();
        manager.close();
    }

    private TrainingWeights place(Precision precision, Offload offload) {
        return place(precision, offload, 0.2);
    }

    private TrainingWeights place(Precision precision, Offload offload, double std) {
        try (NDManager host = NDManager.newBaseManager()) {
            LlamaWeights initial = Parameters.randomInit(CONFIG, std, 3, host);
            return TrainingWeights.place(initial, initial.tensors().keySet(), precision, offload, manager);
        }
    }

    private static List<PackedSequence> batch(long seed, int length) {
        Random random = new Random(seed);
        List<PackedSequence> batch = new ArrayList<>();
        for (int b = 0; b < 2; b++) {
            int[] tokens = new int[length];
            for (int i = 0; i < length; i++) {
                tokens[i] = 3 + random.nextInt(20);
            }
            // a learnable pattern: every other token repeats the one before
            for (int i = 1; i < length; i += 2) {
                tokens[i] = tokens[i - 1];
            }
            batch.add(new PackedSequence(tokens, length, new int[] {0}));
        }
        return batch;
    }

    private static Map<String, float[]> values(NDManager scope, Map<String, NDArray> tensors) {
        Map<String, float[]> out = new LinkedHashMap<>();
        tensors.forEach((name, t) -> out.put(name, Tensors.rows(t, 0, t.getShape().dimension() == 0 ? 1
                : t.getShape().get(0))));
        return out;
    }

    @Test
    void theGuard_refusesABf16TensorInsteadOfAbortingTheJvm() {
        NDArray x = Tensors.fromFloats(manager, new float[] {1.5f, -2f}, new ai.djl.ndarray.types.Shape(2));
        NDArray bf16 = PrecisionOps.shared().cast(x, Precision.BF16);
        assertEquals(DataType.UNKNOWN, bf16.getDataType(), "DJL cannot name bf16");
        LongctxException refused = assertThrows(LongctxException.class, () -> PrecisionOps.dataType(bf16));
        assertTrue(refused.getMessage().contains("PrecisionOps"), refused.getMessage());
        assertEquals(DataType.FLOAT32, PrecisionOps.dataType(x));
        // and the value survives the round trip bit for bit (1.5 and -2 are exact in bf16)
        assertArrayEquals(new float[] {1.5f, -2f}, Tensors.rows(bf16, 0, 2));
    }

    @Test
    void bf16Gradients_agreeWithFp32_withinBf16Rounding() {
        List<PackedSequence> batch = batch(1, 48);
        Map<String, float[]> fp32;
        Map<String, float[]> bf16;
        double fp32Loss;
        double bf16Loss;
        // the usual initialisation scale (std 0.02), where activations are as in a pretrained model's
        try (TrainingWeights w = place(Precision.FP32, Offload.NONE, 0.02);
                NDManager scope = manager.newSubManager()) {
            fp32Loss = new StepRunner(new LlamaModel(w.compute(), sdpa), 0, false).forwardBackward(manager, batch,
                    1.0 / 94);
            w.afterMicroBatch();
            fp32 = values(scope, w.gradientSumsByName(scope));
        }
        try (TrainingWeights w = place(Precision.BF16, Offload.NONE, 0.02);
                NDManager scope = manager.newSubManager()) {
            assertEquals(DataType.UNKNOWN, w.compute().get("model.layers.0.mlp.up_proj.weight").getDataType(),
                    "compute weights are bf16");
            assertEquals(DataType.FLOAT32, w.masters().get("model.layers.0.mlp.up_proj.weight").getDataType());
            bf16Loss = new StepRunner(new LlamaModel(w.compute(), sdpa), 1, false).forwardBackward(manager, batch,
                    1.0 / 94);
            w.afterMicroBatch();
            bf16 = values(scope, w.gradientSumsByName(scope));
        }
        assertEquals(fp32Loss, bf16Loss, Math.abs(fp32Loss) * 0.01, "summed NLL");
        // bf16 keeps 8 significant bits (relative rounding 2^-8 = 3.9e-3 per value); through two layers forward
        // and back, and sums over 94 tokens that partly cancel, the relative error of a whole gradient tensor
        // stays within five times that, and of all gradients together within 2.5 times
        double allDiff = 0;
        double allNorm = 0;
        double worst = 0;
        for (String name : fp32.keySet()) {
            double diff = 0;
            double norm = 0;
            float[] a = fp32.get(name);
            float[] b = bf16.get(name);
            for (int i = 0; i < a.length; i++) {
                diff += (a[i] - b[i]) * (a[i] - b[i]);
                norm += a[i] * a[i];
            }
            double relative = Math.sqrt(diff / norm);
            worst = Math.max(worst, relative);
            assertTrue(relative < 0.02, name + ": relative gradient difference " + relative);
            allDiff += diff;
            allNorm += norm;
        }
        System.out.println("bf16 vs fp32: relative difference of all gradients " + Math.sqrt(allDiff / allNorm)
                + ", worst tensor " + worst);
        assertTrue(Math.sqrt(allDiff / allNorm) < 0.01, "relative difference of all gradients "
                + Math.sqrt(allDiff / allNorm));
    }

    @Test
    void gradientSums_accumulateInFp32AcrossMicroBatches() {
        try (TrainingWeights w = place(Precision.BF16, Offload.NONE); NDManager scope = manager.newSubManager()) {
            StepRunner runner = new StepRunner(new LlamaModel(w.compute(), sdpa), 0, false);
            runner.forwardBackward(manager, batch(2, 16), 1.0);
            w.afterMicroBatch();
            Map<String, float[]> once = values(scope, w.gradientSumsByName(scope));
            runner.forwardBackward(manager, batch(2, 16), 1.0);
            w.afterMicroBatch();
            Map<String, float[]> twice = values(scope, w.gradientSumsByName(scope));
            for (String name : once.keySet()) {
                float[] expected = once.get(name).clone();
                for (int i = 0; i < expected.length; i++) {
                    expected[i] *= 2;      // the same bf16 gradient twice, summed in fp32: exactly double
                }
                assertArrayEquals(expected, twice.get(name), 0f, name);
            }
        }
    }

    @Test
    void hostOffloadedUpdate_equalsTheInPlaceUpdateExactly() {
        for (Precision precision : Precision.values()) {
            Map<String, float[]> inPlace = train(precision, Offload.NONE, 3);
            Map<String, float[]> offloaded = train(precision, Offload.HOST, 3);
            for (String name : inPlace.keySet()) {
                assertArrayEquals(inPlace.get(name), offloaded.get(name), 0f, precision + " " + name);
            }
        }
    }

    /** Masters after some optimizer steps of two micro-batches each. */
    private Map<String, float[]> train(Precision precision, Offload offload, int steps) {
        try (TrainingWeights w = place(precision, offload); NDManager scope = manager.newSubManager();
                AdamW adam = new AdamW(w.masterManager(), w.masters(), 0.9, 0.95, 1e-8, 0.1)) {
            StepRunner runner = new StepRunner(new LlamaModel(w.compute(), sdpa), 0, false);
            for (int step = 1; step <= steps; step++) {
                OptimizerStep.run(manager, runner, adam, w, List.of(batch(10 + step, 16), batch(20 + step, 16)),
                        step, 1e-2, 1.0);
            }
            return values(scope, w.masters());
        }
    }

    @Test
    void a200StepBf16Run_followsTheFp32LossCurveWithin2Percent() {
        double[] fp32 = windowMeans(curve(Precision.FP32, 200, 1e-3, 0.02));
        double[] bf16 = windowMeans(curve(Precision.BF16, 200, 1e-3, 0.02));
        assertTrue(fp32[fp32.length - 1] < 0.5 * fp32[0], "the model learns: " + fp32[0] + " -> "
                + fp32[fp32.length - 1]);
        for (int i = 0; i < fp32.length; i++) {
            assertEquals(fp32[i], bf16[i], 0.02 * fp32[i], "steps " + (10 * i + 1) + "-" + (10 * i + 10));
        }
    }

    /** The curve as charted: the mean loss of each 10 steps (single steps differ by their batch's noise). */
    private static double[] windowMeans(double[] losses) {
        double[] means = new double[losses.length / 10];
        for (int i = 0; i < losses.length; i++) {
            means[i / 10] += losses[i] / 10;
        }
        return means;
    }

    private double[] curve(Precision precision, int steps, double lr, double std) {
        double[] losses = new double[steps];
        try (TrainingWeights w = place(precision, Offload.NONE, std);
                AdamW adam = new AdamW(w.masterManager(), w.masters(), 0.9, 0.95, 1e-8, 0.0)) {
            StepRunner runner = new StepRunner(new LlamaModel(w.compute(), sdpa), 0, false);
            for (int step = 1; step <= steps; step++) {
                losses[step - 1] = OptimizerStep.run(manager, runner, adam, w, List.of(batch(step % 8, 32)), step,
                        lr, 1.0).loss();
            }
        }
        return losses;
    }
}
