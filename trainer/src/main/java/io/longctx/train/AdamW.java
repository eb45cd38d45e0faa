package io.longctx.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * AdamW with decoupled weight decay whose first and second moments are tensors this class owns, so they can be
 * checkpointed and restored exactly (DJL's optimizers keep them private). The update is torch's:
 *
 * <pre>
 * w <- w (1 - lr wd)
 * m <- b1 m + (1 - b1) g ;  v <- b2 v + (1 - b2) g^2
 * w <- w - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 * </pre>
 *
 * carried out by the engine's fused kernel; {@code gradScale} multiplies every gradient first (global-norm clipping).
 */
public final class AdamW implements AutoCloseable {
    private final NDManager manager;
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    private final Map<String, NDArray> means = new LinkedHashMap<>();
    private final Map<String, NDArray> variances = new LinkedHashMap<>();

    public AdamW(NDManager parent, Map<String, NDArray> parameters, double beta1, double beta2, double eps,
            double weightDecay) {
        this.manager = parent.newSubManager();
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        parameters.forEach((name, p) -> {
            means.put(name, p.zerosLike());
            variances.put(name, p.zerosLike());
            means.get(name).attach(manager);
            variances.get(name).attach(manager);
        });
    }

    /**
     * Applies update number {@code step} (1-based) to every parameter from its gradient, then zeroes the gradients.
     */
    public void step(Map<String, NDArray> parameters, int step, double lr, double gradScale) {
        double correction1 = 1 - Math.pow(beta1, step);
        double correction2 = 1 - Math.pow(beta2, step);
        float lrCorrected = (float) (lr * Math.sqrt(correction2) / correction1);
        // the kernel adds eps to sqrt(v) before the bias correction; rescale it to torch's placement
        float epsKernel = (float) (eps * Math.sqrt(correction2));
        try (NDManager scope = manager.newSubManager()) {
            for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
                NDArray weight = e.getValue();
                NDArray grad = weight.getGradient();
                grad.attach(scope);
                JniUtils.adamUpdate((PtNDArray) weight, (PtNDArray) grad, (PtNDArray) means.get(e.getKey()),
                        (PtNDArray) variances.get(e.getKey()), (float) lr, lrCorrected, (float) weightDecay,
                        (float) gradScale, Float.MAX_VALUE, (float) beta1, (float) beta2, epsKernel, true);
                JniUtils.zeroGrad((PtNDArray) weight);
            }
        }
    }

    /** The moments under "m." and "v." prefixes of the parameter names. */
    public Map<String, NDArray> state() {
        Map<String, NDArray> state = new LinkedHashMap<>();
        means.forEach((name, m) -> state.put("m." + name, m));
        variances.forEach((name, v) -> state.put("v." + name, v));
        return state;
    }

    /** Overwrites the moments from a checkpoint's state (same names and shapes as {@link #state()}). */
    public void load(Map<String, float[]> state) {
        for (Map.Entry<String, NDArray> e : state().entrySet()) {
            float[] values = state.get(e.getKey());
            if (values == null || values.length != e.getValue().size()) {
                throw new io.longctx.LongctxException("optimizer state '" + e.getKey() + "' missing or of the "
                        + "wrong size in the checkpoint");
            }
            NDArray target = e.getValue();
            try (NDArray loaded = io.longctx.engine.Tensors.fromFloats(manager, values, target.getShape())) {
                loaded.copyTo(target);
            }
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
