package io.longctx.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Attention over document segments against the masked reference (a (B, 1, T, T) block-diagonal causal mask in the
 * plain implementation): the same outputs and the same gradients of q, k and v, for rows that share their document
 * boundaries and rows that do not, with grouped-query heads.
 */
class DocumentAttentionTest {
    private static NDManager manager;
    private static SdpaAttention sdpa;

    @BeforeAll
    static void setUp() {
        manager = NDManager.newBaseManager();
        sdpa = SdpaAttention.create();
    }

    @AfterAll
    static void tearDown() {
        sdpa.close();
        manager.close();
    }

    @Test
    void segmentStarts_followTheDocumentOrdinals() {
        int[][] starts = DocumentAttention.segmentStarts(new int[][] {{0, 0, 1, 1, 1, 2}, {0, 0, 0, 0, 0, 0}});
        assertArrayEquals(new int[] {0, 2, 5}, starts[0]);
        assertArrayEquals(new int[] {0}, starts[1]);
    }

    @Test
    void differentBoundariesPerRow_matchTheMaskedReference() {
        check(new int[][] {{0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3}, {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1}});
    }

    @Test
    void sharedBoundaries_matchTheMaskedReference() {
        int[] row = {0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2};
        check(new int[][] {row, row});
    }

    private static void check(int[][] documents) {
        for (Attention attention : new Attention[] {sdpa, new PlainAttention()}) {
            Random random = new Random(17);
            try (NDManager scope = manager.newSubManager()) {
                int t = documents[0].length;
                NDArray q = random(scope, random, 2, 8, t, 16);
                NDArray k = random(scope, random, 2, 2, t, 16);
                NDArray v = random(scope, random, 2, 2, t, 16);
                NDArray weights = random(scope, random, 2, 8, t, 16);         // a loss that weighs every output
                float[][] segmented = outputsAndGradients(q, k, v, weights,
                        () -> DocumentAttention.attend(attention, q, k, v, DocumentAttention.segmentStarts(documents)));
                float[][] reference = outputsAndGradients(q, k, v, weights,
                        () -> new PlainAttention().attendMasked(q, k, v, mask(scope, documents)));
                for (int i = 0; i < reference.length; i++) {
                    assertEquals(reference[i].length, segmented[i].length);
                    assertArrayEquals(reference[i], segmented[i], 1e-5f, attention.name() + " part " + i);
                }
            }
        }
    }

    /** Output and the gradients of q, k and v of sum(attention x weights). */
    private static float[][] outputsAndGradients(NDArray q, NDArray k, NDArray v, NDArray weights,
            java.util.function.Supplier<NDArray> attend) {
        for (NDArray x : new NDArray[] {q, k, v}) {
            x.setRequiresGradient(true);
        }
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(true);
        try {
            NDArray out = attend.get();
            NDArray loss = out.mul(weights).sum();
            JniUtils.backward((PtNDArray) loss, (PtNDArray) loss.onesLike(), false, false);
            float[][] result = {out.toFloatArray(), q.getGradient().toFloatArray(), k.getGradient().toFloatArray(),
                v.getGradient().toFloatArray()};
            for (NDArray x : new NDArray[] {q, k, v}) {
                JniUtils.zeroGrad((PtNDArray) x);
            }
            return result;
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    /** The block-diagonal causal mask (B, 1, T, T) the reference attends under. */
    private static NDArray mask(NDManager scope, int[][] documents) {
        int b = documents.length;
        int t = documents[0].length;
        boolean[] allowed = new boolean[b * t * t];
        for (int r = 0; r < b; r++) {
            for (int i = 0; i < t; i++) {
                for (int j = 0; j <= i; j++) {
                    allowed[(r * t + i) * t + j] = documents[r][i] == documents[r][j];
                }
            }
        }
        return scope.create(allowed, new Shape(b, 1, t, t));
    }

    private static NDArray random(NDManager scope, Random random, long... shape) {
        float[] values = new float[(int) new Shape(shape).size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return Tensors.fromFloats(scope, values, new Shape(shape));
    }
}
