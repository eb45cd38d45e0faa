package io.longctx.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.longctx.engine.Tensors;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * AdamW against the published update (Loshchilov and Hutter; torch.optim.AdamW), written out in double precision, on
 * a toy quadratic whose gradient changes every step; and global-norm clipping as a gradient scale.
 */
class AdamWTest {

    /** loss = sum(a * w^2) / 2 + sum(b * w), so grad = a*w + b. */
    private static void backward(NDManager m, NDArray w, float[] a, float[] b) {
        JniUtils.setGradMode(true);
        NDArray aa = Tensors.fromFloats(m, a, w.getShape());
        NDArray bb = Tensors.fromFloats(m, b, w.getShape());
        NDArray loss = w.square().mul(aa).sum().mul(Tensors.scalar(m, 0.5, w.getDataType())).add(w.mul(bb).sum());
        JniUtils.backward((PtNDArray) loss, (PtNDArray) loss.onesLike(), false, false);
        JniUtils.setGradMode(false);
    }

    @Test
    void threeSteps_matchTheFormula_withDecayClippingAndLargeEps() {
        float[] w0 = {0.5f, -1.5f, 2.0f, 0.01f};
        float[] a = {1f, 2f, 0.5f, 3f};
        float[] b = {0.1f, -0.3f, 0.2f, 0f};
        double lr = 0.05;
        double b1 = 0.9;
        double b2 = 0.95;
        double eps = 1e-3;
        double wd = 0.1;
        double[] scales = {1.0, 0.5, 0.25};
        double[] w = new double[w0.length];
        double[] m = new double[w0.length];
        double[] v = new double[w0.length];
        for (int i = 0; i < w.length; i++) {
            w[i] = w0[i];
        }
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray weight = Tensors.fromFloats(manager, w0, new Shape(w0.length));
            weight.setRequiresGradient(true);
            Map<String, NDArray> params = new LinkedHashMap<>();
            params.put("w", weight);
            try (AdamW adam = new AdamW(manager, params, b1, b2, eps, wd)) {
                for (int t = 1; t <= 3; t++) {
                    backward(manager, weight, a, b);
                    adam.step(params, t, lr, scales[t - 1]);
                    for (int i = 0; i < w.length; i++) {
                        double g = (a[i] * w[i] + b[i]) * scales[t - 1];
                        w[i] *= 1 - lr * wd;
                        m[i] = b1 * m[i] + (1 - b1) * g;
                        v[i] = b2 * v[i] + (1 - b2) * g * g;
                        double mHat = m[i] / (1 - Math.pow(b1, t));
                        double vHat = v[i] / (1 - Math.pow(b2, t));
                        w[i] -= lr * mHat / (Math.sqrt(vHat) + eps);
                    }
                    float[] actual = weight.toFloatArray();
                    for (int i = 0; i < w.length; i++) {
                        assertEquals(w[i], actual[i], 2e-6, "step " + t + " element " + i);
                    }
                }
                float[] state = adam.state().get("m.w").toFloatArray();
                for (int i = 0; i < w.length; i++) {
                    assertEquals(m[i], state[i], 1e-6, "first moment " + i);
                }
            }
        }
    }

    @Test
    void globalGradNorm_isTheNormOverAllParameters() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray p1 = Tensors.fromFloats(manager, new float[] {1f, 2f}, new Shape(2));
            NDArray p2 = Tensors.fromFloats(manager, new float[] {3f}, new Shape(1));
            p1.setRequiresGradient(true);
            p2.setRequiresGradient(true);
            JniUtils.setGradMode(true);
            // grad p1 = (2, 4) via p1^2 summed; grad p2 = 5 via 5 * p2
            NDArray loss = p1.square().sum().add(p2.mul(Tensors.scalar(manager, 5, p2.getDataType())).sum());
            JniUtils.backward((PtNDArray) loss, (PtNDArray) loss.onesLike(), false, false);
            JniUtils.setGradMode(false);
            Map<String, NDArray> params = Map.of("a", p1, "b", p2);
            assertEquals(Math.sqrt(4 + 16 + 25), StepRunner.globalGradNorm(manager, params), 1e-6);
        }
    }
}
