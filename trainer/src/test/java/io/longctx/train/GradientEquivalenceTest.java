package io.longctx.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.longctx.data.pack.PackedSequence;
import io.longctx.engine.PlainAttention;
import io.longctx.engine.SdpaAttention;
import io.longctx.model.LlamaModel;
import io.longctx.model.LlamaWeights;
import io.longctx.model.ModelConfig;
import io.longctx.rope.YarnScaling;
import io.longctx.testing.TinyModels;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Gradients that must not depend on how they are computed: activation checkpointing against the plain graph,
 * k micro-batches against one k-times-larger batch, and the fused attention against the plain one.
 */
class GradientEquivalenceTest {
    private NDManager manager;
    private LlamaWeights weights;
    private SdpaAttention sdpa;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
        var json = TinyModels.llamaConfig().put("num_hidden_layers", 4);
        ModelConfig config = ModelConfig.parse(json, "test").withRopeScaling(YarnScaling.of(2, 64));
        weights = Parameters.randomInit(config, 0.2, 3, manager);
        weights.tensors().values().forEach(p -> p.setRequiresGradient(true));
        sdpa = SdpaAttention.create();
    }

    @AfterEach
    void tearDown() {
        sdpa.close();
        manager.close();
    }

    private static PackedSequence sequence(long seed, int length, int used, int[] starts) {
        Random random = new Random(seed);
        int[] tokens = new int[length];
        for (int i = 0; i < length; i++) {
            tokens[i] = i < used ? 3 + random.nextInt(60) : 0;
        }
        return new PackedSequence(tokens, used, starts);
    }

    private Map<String, float[]> gradients() {
        Map<String, float[]> grads = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : weights.tensors().entrySet()) {
            NDArray grad = e.getValue().getGradient();
            grads.put(e.getKey(), grad.toFloatArray());
            grad.close();
            JniUtils.zeroGrad((PtNDArray) e.getValue());
        }
        return grads;
    }

    private static void assertSameGradients(Map<String, float[]> expected, Map<String, float[]> actual, float tol) {
        for (String name : expected.keySet()) {
            assertArrayEquals(expected.get(name), actual.get(name), tol, name);
        }
        float total = 0;
        for (float[] g : expected.values()) {
            for (float v : g) {
                total += Math.abs(v);
            }
        }
        assertTrue(total > 0, "gradients are not all zero");
    }

    @Test
    void checkpointedGradients_equalPlainGradients() {
        List<PackedSequence> batch = List.of(sequence(1, 48, 48, new int[] {0}), sequence(2, 48, 40,
                new int[] {0, 17}));
        LlamaModel model = new LlamaModel(weights, sdpa);
        double plainLoss = new StepRunner(model, 0, false).forwardBackward(manager, batch, 1.0 / 85);
        Map<String, float[]> plain = gradients();
        for (int every : new int[] {1, 3}) {
            double loss = new StepRunner(model, every, false).forwardBackward(manager, batch, 1.0 / 85);
            assertEquals(plainLoss, loss, 1e-4);
            assertSameGradients(plain, gradients(), 1e-6f);
        }
    }

    @Test
    void keepingTheLastLayers_givesThePlainGradients_andTellsEachLayerOnce() {
        List<PackedSequence> batch = List.of(sequence(6, 48, 48, new int[] {0}), sequence(7, 48, 44,
                new int[] {0, 21}));
        LlamaModel model = new LlamaModel(weights, sdpa);
        double plainLoss = new StepRunner(model, 0, false).forwardBackward(manager, batch, 1.0 / 89);
        Map<String, float[]> plain = gradients();
        // 4 layers: every layer recomputed but the last, the last 3, or segments of 2 below the kept one
        for (int[] policy : new int[][] {{1, 1}, {1, 3}, {2, 1}}) {
            List<int[]> told = new java.util.ArrayList<>();
            double loss = new StepRunner(model, policy[0], policy[1], false).forwardBackward(manager, batch,
                    1.0 / 89, (from, to) -> told.add(new int[] {from, to}));
            assertEquals(plainLoss, loss, 1e-4);
            assertSameGradients(plain, gradients(), 1e-6f);
            int[] covered = new int[5];                                   // layers 0-3 and the head (4)
            for (int[] range : told) {
                for (int layer = range[0]; layer < range[1]; layer++) {
                    covered[layer]++;
                }
            }
            assertArrayEquals(new int[] {1, 1, 1, 1, 1}, covered, "every " + policy[0] + " keep " + policy[1]);
        }
        io.longctx.LongctxException refused = org.junit.jupiter.api.Assertions.assertThrows(
                io.longctx.LongctxException.class, () -> new StepRunner(model, 1, 4, false));
        assertTrue(refused.getMessage().contains("keep_last: must be 0 to 3"), refused.getMessage());
    }

    @Test
    void checkpointedGradients_equalPlainGradients_whenTheHeadRunsInChunks() {
        int length = 2 * io.longctx.model.ChunkedNll.CHUNK + 77;
        List<PackedSequence> batch = List.of(sequence(3, length, length - 5, new int[] {0}));
        LlamaModel model = new LlamaModel(weights, sdpa);
        double plainLoss = new StepRunner(model, 0, false).forwardBackward(manager, batch, 1.0 / length);
        Map<String, float[]> plain = gradients();
        double loss = new StepRunner(model, 2, false).forwardBackward(manager, batch, 1.0 / length);
        assertEquals(plainLoss, loss, 1e-3);
        assertSameGradients(plain, gradients(), 1e-6f);
    }

    @Test
    void selectiveCheckpointing_givesThePlainGradients_withAndWithoutDocuments_andKeptLayers() {
        // grouped-query heads (4 query, 2 key/value), rows with different document boundaries and padding
        List<PackedSequence> batch = List.of(sequence(21, 40, 40, new int[] {0, 9, 30}),
                sequence(22, 40, 33, new int[] {0, 17}));
        LlamaModel model = new LlamaModel(weights, sdpa);
        for (boolean documents : new boolean[] {false, true}) {
            double plainLoss = new StepRunner(model, 0, documents).forwardBackward(manager, batch, 1.0 / 71);
            Map<String, float[]> plain = gradients();
            for (int keep : new int[] {0, 1}) {
                List<int[]> told = new java.util.ArrayList<>();
                double loss = new StepRunner(model, 1, keep, true, documents).forwardBackward(manager, batch,
                        1.0 / 71, (from, to) -> told.add(new int[] {from, to}));
                assertEquals(plainLoss, loss, 1e-4);
                assertSameGradients(plain, gradients(), 1e-6f);
                int[] covered = new int[5];
                for (int[] range : told) {
                    for (int layer = range[0]; layer < range[1]; layer++) {
                        covered[layer]++;
                    }
                }
                assertArrayEquals(new int[] {1, 1, 1, 1, 1}, covered, "documents " + documents + " keep " + keep);
            }
        }
        io.longctx.LongctxException plainRefused = org.junit.jupiter.api.Assertions.assertThrows(
                io.longctx.LongctxException.class,
                () -> new StepRunner(new LlamaModel(weights, new PlainAttention()), 1, 0, true, false));
        assertTrue(plainRefused.getMessage().contains("attention: sdpa"), plainRefused.getMessage());
    }

    @Test
    void checkpointedGradients_equalPlainGradients_withDocumentMasking() {
        List<PackedSequence> batch = List.of(sequence(5, 40, 40, new int[] {0, 9, 30}));
        LlamaModel model = new LlamaModel(weights, sdpa);
        new StepRunner(model, 0, true).forwardBackward(manager, batch, 0.1);
        Map<String, float[]> plain = gradients();
        new StepRunner(model, 2, true).forwardBackward(manager, batch, 0.1);
        assertSameGradients(plain, gradients(), 1e-6f);
    }

    @Test
    void microBatches_accumulateToTheLargeBatchGradient() {
        List<PackedSequence> all = List.of(sequence(11, 32, 32, new int[] {0}), sequence(12, 32, 20, new int[] {0}),
                sequence(13, 32, 32, new int[] {0, 5}), sequence(14, 32, 32, new int[] {0}));
        long tokens = StepRunner.lossTokens(all);
        StepRunner runner = new StepRunner(new LlamaModel(weights, sdpa), 0, false);
        runner.forwardBackward(manager, all, 1.0 / tokens);
        Map<String, float[]> large = gradients();
        for (int i = 0; i < 4; i += 2) {
            runner.forwardBackward(manager, all.subList(i, i + 2), 1.0 / tokens);
        }
        assertSameGradients(large, gradients(), 1e-6f);
    }

    @Test
    void fusedAttentionGradients_equalPlainAttentionGradients() {
        List<PackedSequence> batch = List.of(sequence(21, 40, 40, new int[] {0, 12}));
        new StepRunner(new LlamaModel(weights, new PlainAttention()), 0, true).forwardBackward(manager, batch, 0.05);
        Map<String, float[]> plain = gradients();
        new StepRunner(new LlamaModel(weights, sdpa), 0, true).forwardBackward(manager, batch, 0.05);
        assertSameGradients(plain, gradients(), 1e-5f);
    }

    @Test
    void paddingIsMaskedOut() {
        PackedSequence padded = sequence(31, 32, 20, new int[] {0});
        int[] otherPadding = padded.tokens().clone();
        for (int i = 20; i < 32; i++) {
            otherPadding[i] = 50;
        }
        StepRunner runner = new StepRunner(new LlamaModel(weights, sdpa), 0, false);
        double a = runner.forwardBackward(manager, List.of(padded), 1.0);
        Map<String, float[]> first = gradients();
        double b = runner.forwardBackward(manager, List.of(new PackedSequence(otherPadding, 20, new int[] {0})), 1.0);
        assertEquals(a, b, 1e-5);
        assertSameGradients(first, gradients(), 1e-6f);
        assertEquals(19, StepRunner.lossTokens(List.of(padded)));
    }

    @Test
    void frozenEmbedding_withCheckpointing_givesThePlainPathsGradients() {
        // trainable: ["model.layers.*.self_attn.*"]: the embedding (tied to the head) has no gradient function
        weights.tensors().forEach((name, p) -> p.setRequiresGradient(name.contains(".self_attn.")));
        List<PackedSequence> batch = List.of(sequence(41, 48, 48, new int[] {0}));
        LlamaModel model = new LlamaModel(weights, sdpa);
        double plainLoss = new StepRunner(model, 0, false).forwardBackward(manager, batch, 0.02);
        Map<String, float[]> plain = attentionGradients();
        double loss = new StepRunner(model, 1, false).forwardBackward(manager, batch, 0.02);
        assertEquals(plainLoss, loss, 1e-4);
        assertSameGradients(plain, attentionGradients(), 1e-6f);
    }

    private Map<String, float[]> attentionGradients() {
        Map<String, float[]> grads = new LinkedHashMap<>();
        weights.tensors().forEach((name, p) -> {
            if (name.contains(".self_attn.")) {
                NDArray grad = p.getGradient();
                grads.put(name, grad.toFloatArray());
                grad.close();
                JniUtils.zeroGrad((PtNDArray) p);
            }
        });
        return grads;
    }

    @Test
    void validationLoss_throughTheChunkedHead_equalsFullLogits() {
        int length = 2 * io.longctx.model.ChunkedNll.CHUNK + 77;
        PackedSequence s = sequence(51, length, length - 9, new int[] {0});
        LlamaModel model = new LlamaModel(weights, sdpa);
        double chunked = new StepRunner(model, 0, false).loss(manager, List.of(s));
        // reference: the whole (T, V) log-softmax at once, summed over the used targets
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try (NDManager scope = manager.newSubManager()) {
            NDArray ids = io.longctx.engine.Tensors.tokenRow(scope, s.tokens(), 0, length);
            float[] logProbs = model.logits(scope, ids, null).logSoftmax(2).toFloatArray();   // (1, T, V)
            int vocab = weights.config().vocabSize();
            double reference = 0;
            for (int i = 0; i + 1 < s.used(); i++) {
                reference -= logProbs[i * vocab + s.tokens()[i + 1]];
            }
            assertEquals(reference, chunked, 1e-5 * Math.abs(reference));
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    @Test
    void aKeptAttentionOutput_leavesNothingOfTheLayerInItsManager() {
        // selective checkpointing keeps each layer's attention output in the step's scope; what the layer derives
        // from it (the merged heads, the output projection) must still be freed with the layer
        LlamaModel model = new LlamaModel(weights, sdpa);
        ModelConfig config = model.config();
        int t = 16;
        try (NDManager step = manager.newSubManager(); NDManager kept = manager.newSubManager()) {
            LlamaModel.AttentionInputs inputs = model.contiguousInputs(step, 0, t);
            NDArray x = step.randomNormal(new ai.djl.ndarray.types.Shape(1, t, config.hiddenSize()));
            NDArray[] output = new NDArray[1];
            int before = kept.getManagedArrays().size();
            NDArray out = model.decoderLayer(step, 0, x, inputs, null, (q, k, v, in) -> {
                output[0] = sdpa.attend(q, k, v, true);
                output[0].attach(kept);                                         // (B, nh, T, hd)
                return output[0];
            });
            assertEquals(before + 1, kept.getManagedArrays().size(), "only the kept output itself");
            assertEquals(3, out.getShape().dimension());
        }
    }
}
