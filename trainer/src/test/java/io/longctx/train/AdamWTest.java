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
        // two parameters of different shapes, updated in one call
        float[][] w0 = {{0.5f, -1.5f, 2.0f, 0.01f}, {-0.25f, 0.75f, 1.25f, -2.0f, 0.3f, 0.0f}};
        Shape[] shapes = {new Shape(4), new Shape(2, 3)};
        float[][] a = {{1f, 2f, 0.5f, 3f}, {0.2f, 1.5f, 1f, 0.7f, 2.5f, 1f}};
        float[][] b = {{0.1f, -0.3f, 0.2f, 0f}, {0.05f, 0f, -0.4f, 0.3f, 0.1f, -0.2f}};
        double lr = 0.05;
        double b1 = 0.9;
        double b2 = 0.95;
        double eps = 1e-3;
        double wd = 0.1;
        double[] scales = {1.0, 0.5, 0.25};
        double[][] w = new double[2][];
        double[][] m = new double[2][];
        double[][] v = new double[2][];
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> params = new LinkedHashMap<>();
            for (int p = 0; p < 2; p++) {
                w[p] = new double[w0[p].length];
                m[p] = new double[w0[p].length];
                v[p] = new double[w0[p].length];
                for (int i = 0; i < w0[p].length; i++) {
                    w[p][i] = w0[p][i];
                }
                NDArray weight = Tensors.fromFloats(manager, w0[p], shapes[p]);
                weight.setRequiresGradient(true);
                params.put("w" + p, weight);
            }
            try (AdamW adam = new AdamW(manager, params, b1, b2, eps, wd)) {
                for (int t = 1; t <= 3; t++) {
                    for (int p = 0; p < 2; p++) {
                        backward(manager, params.get("w" + p), a[p], b[p]);
                    }
                    adam.step(params, t, lr, scales[t - 1]);
                    for (int p = 0; p < 2; p++) {
                        for (int i = 0; i < w[p].length; i++) {
                            double g = (a[p][i] * w[p][i] + b[p][i]) * scales[t - 1];
                            w[p][i] *= 1 - lr * wd;
                            m[p][i] = b1 * m[p][i] + (1 - b1) * g;
                            v[p][i] = b2 * v[p][i] + (1 - b2) * g * g;
                            double mHat = m[p][i] / (1 - Math.pow(b1, t));
                            double vHat = v[p][i] / (1 - Math.pow(b2, t));
                            w[p][i] -= lr * mHat / (Math.sqrt(vHat) + eps);
                        }
                        float[] actual = params.get("w" + p).toFloatArray();
                        for (int i = 0; i < w[p].length; i++) {
                            assertEquals(w[p][i], actual[i], 2e-6, "step " + t + " parameter " + p + " element " + i);
                        }
                        float[] grad = params.get("w" + p).getGradient().toFloatArray();
                        for (float g : grad) {
                            assertEquals(0f, g, "gradients are zeroed after the update");
                        }
                    }
                }
                for (int p = 0; p < 2; p++) {
                    float[] first = adam.state().get("m.w" + p).toFloatArray();
                    float[] second = adam.state().get("v.w" + p).toFloatArray();
                    for (int i = 0; i < w[p].length; i++) {
                        assertEquals(m[p][i], first[i], 1e-6, "first moment " + p + "/" + i);
                        assertEquals(v[p][i], second[i], 1e-6, "second moment " + p + "/" + i);
                    }
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
            try (AdamW adam = new AdamW(manager, params, 0.9, 0.95, 1e-8, 0)) {
                assertEquals(Math.sqrt(4 + 16 + 25), adam.gradNorm(params), 1e-6);
            }
        }
    }
}
