package io.longctx.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The fused SwiGLU against its formula: silu(g) u, and the gradients of both inputs written out by hand. */
class SwigluTest {
    @Test
    void forwardAndBackward_matchTheFormula() {
        Random random = new Random(5);
        int n = 2 * 3 * 7;
        float[] g = new float[n];
        float[] u = new float[n];
        float[] upstream = new float[n];
        for (int i = 0; i < n; i++) {
            g[i] = (float) (3 * random.nextGaussian());
            u[i] = (float) random.nextGaussian();
            upstream[i] = (float) random.nextGaussian();
        }
        float[] out = new float[n];
        float[] dg = new float[n];
        float[] du = new float[n];
        for (int i = 0; i < n; i++) {
            double s = 1 / (1 + Math.exp(-g[i]));
            out[i] = (float) (g[i] * s * u[i]);
            dg[i] = (float) (upstream[i] * u[i] * (s + g[i] * s * (1 - s)));   // d silu / dg = s + g s (1 - s)
            du[i] = (float) (upstream[i] * g[i] * s);
        }
        boolean grad = JniUtils.isGradMode();
        try (NDManager manager = NDManager.newBaseManager()) {
            JniUtils.setGradMode(true);
            Shape shape = new Shape(2, 3, 7);
            NDArray gate = Tensors.fromFloats(manager, g, shape);
            NDArray up = Tensors.fromFloats(manager, u, shape);
            gate.setRequiresGradient(true);
            up.setRequiresGradient(true);
            NDArray result = PrecisionOps.shared().swiglu(gate, up);              // (2, 3, 7)
            assertArrayEquals(out, result.toFloatArray(), 1e-5f);
            JniUtils.backward((PtNDArray) result, (PtNDArray) Tensors.fromFloats(manager, upstream, shape), false,
                    false);
            assertArrayEquals(dg, gate.getGradient().toFloatArray(), 1e-5f);
            assertArrayEquals(du, up.getGradient().toFloatArray(), 1e-5f);
        } finally {
            JniUtils.setGradMode(grad);
        }
    }
}
