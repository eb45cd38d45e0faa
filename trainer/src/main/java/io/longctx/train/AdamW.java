package io.longctx.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.longctx.engine.ParameterKernels;
import java.util.ArrayList;
import io.longctx.engine.Tensors;
import io.longctx.safetensors.RowSlices;
import io.longctx.safetensors.SafetensorsFile;
import java.util.List;
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
 * carried out by torch's fused kernel in one call for all parameters; {@code gradScale} multiplies every gradient
 * first (global-norm clipping).
 */
public final class AdamW implements AutoCloseable {
    private final NDManager manager;
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    private final Map<String, NDArray> means = new LinkedHashMap<>();
    private final Map<String, NDArray> variances = new LinkedHashMap<>();
    private final ParameterKernels kernels;

    public AdamW(NDManager parent, Map<String, NDArray> parameters, double beta1, double beta2, double eps,
            double weightDecay) {
        this.manager = parent.newSubManager();
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.kernels = ParameterKernels.create();
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
        try (NDManager scope = manager.newSubManager()) {
            step(parameters, gradients(scope, parameters), step, lr, gradScale);
        }
    }

    /**
     * Applies update number {@code step} to every parameter from the gradient at the same position of
     * {@code grads} (which may live apart from the parameters' own gradients), then zeroes those gradients.
     */
    public void step(Map<String, NDArray> parameters, List<NDArray> grads, int step, double lr, double gradScale) {
        List<NDArray> weights = new ArrayList<>(parameters.size());
        List<NDArray> m = new ArrayList<>(parameters.size());
        List<NDArray> v = new ArrayList<>(parameters.size());
        for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
            weights.add(e.getValue());
            m.add(means.get(e.getKey()));
            v.add(variances.get(e.getKey()));
        }
        kernels.adamw(weights, grads, m, v, step, lr, beta1, beta2, weightDecay, eps, gradScale);
    }

    /** sqrt of the sum of squares of every element of every gradient in the list. */
    public double gradNorm(List<NDArray> grads) {
        return kernels.gradNorm(grads);
    }

    /** sqrt of the sum of squared gradients over all parameters. */
    public double gradNorm(Map<String, NDArray> parameters) {
        try (NDManager scope = manager.newSubManager()) {
            return kernels.gradNorm(gradients(scope, parameters));
        }
    }

    /** Live views of the gradients, their handles owned by scope. */
    private static List<NDArray> gradients(NDManager scope, Map<String, NDArray> parameters) {
        List<NDArray> grads = new ArrayList<>(parameters.size());
        for (NDArray p : parameters.values()) {
            NDArray grad = p.getGradient();
            grad.attach(scope);
            grads.add(grad);
        }
        return grads;
    }

    /** The moments under "m." and "v." prefixes of the parameter names. */
    public Map<String, NDArray> state() {
        Map<String, NDArray> state = new LinkedHashMap<>();
        means.forEach((name, m) -> state.put("m." + name, m));
        variances.forEach((name, v) -> state.put("v." + name, v));
        return state;
    }

    /**
     * Replaces the moments with a checkpoint's (same names and shapes as {@link #state()}), read tensor by tensor in
     * row slices, so the optimizer state is never whole in the Java heap.
     */
    public void load(SafetensorsFile file) {
        for (Map<String, NDArray> moments : List.of(means, variances)) {
            String prefix = moments == means ? "m." : "v.";
            for (Map.Entry<String, NDArray> e : moments.entrySet()) {
                String name = prefix + e.getKey();
                NDArray current = e.getValue();
                if (!file.tensors().containsKey(name)
                        || !java.util.Arrays.equals(file.entry(name).shape(), current.getShape().getShape())) {
                    throw new io.longctx.LongctxException(file.path() + ": optimizer state '" + name + "' missing "
                            + "or of the wrong shape (expected " + current.getShape() + ")");
                }
                // a new tensor rather than an in-place copy, which goes through a deprecated libtorch guard that
                // prints a warning
                e.setValue(Tensors.fromSafetensors(manager, file, name, RowSlices.DEFAULT_BYTES, (a, b, data) -> { }));
                current.close();
            }
        }
    }

    /**
     * Replaces the moments with slices of flattened ones: the parameters' moments concatenated in their order (as a
     * sharded optimizer saves them, its shards joined), any padding after the last parameter ignored.
     */
    public void loadFlat(NDArray flatMeans, NDArray flatVariances) {
        for (Map<String, NDArray> moments : List.of(means, variances)) {
            NDArray flat = moments == means ? flatMeans : flatVariances;
            long offset = 0;
            for (Map.Entry<String, NDArray> e : moments.entrySet()) {
                NDArray current = e.getValue();
                long n = current.size();
                if (offset + n > flat.size()) {
                    throw new io.longctx.LongctxException("the saved sharded optimizer state holds " + flat.size()
                            + " values per moment, fewer than the model's trainable parameters");
                }
                NDArray slice = flat.get(new ai.djl.ndarray.index.NDIndex("{}:{}", offset, offset + n))
                        .reshape(current.getShape());
                NDArray owned = slice.duplicate();
                slice.close();
                owned.attach(manager);
                e.setValue(owned);
                current.close();
                offset += n;
            }
        }
    }

    @Override
    public void close() {
        kernels.close();
        manager.close();
    }
}
