package io.longctx.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The fused SDPA path against the plain NDArray reference on random inputs. */
class AttentionAgreementTest {
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

    private static NDArray random(Random random, long... shape) {
        long n = new Shape(shape).size();
        float[] values = new float[(int) n];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return Tensors.fromFloats(manager, values, new Shape(shape));
    }

    @ParameterizedTest(name = "heads {0}/{1}, T={2}, S={3}, causal={4}")
    @CsvSource({
        "4, 4, 37, 37, true",
        "8, 2, 37, 37, true",
        "8, 2, 5, 40, true",
        "8, 4, 1, 23, true",
        "4, 4, 16, 16, false",
        "6, 2, 9, 21, false"})
    void sdpaMatchesPlain(int heads, int kvHeads, int t, int s, boolean causal) {
        Random random = new Random(heads * 1000L + t * 31L + s);
        try (NDManager scope = manager.newSubManager()) {
            NDArray q = random(random, 2, heads, t, 16);
            NDArray k = random(random, 2, kvHeads, s, 16);
            NDArray v = random(random, 2, kvHeads, s, 16);
            q.attach(scope);
            k.attach(scope);
            v.attach(scope);
            NDArray fused = sdpa.attend(q, k, v, causal);
            NDArray plain = new PlainAttention().attend(q, k, v, causal);
            assertEquals(plain.getShape(), fused.getShape());
            assertArrayEquals(plain.toFloatArray(), fused.toFloatArray(), 1e-5f);
        }
    }
}
