package io.longctx.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.longctx.LongctxException;
import io.longctx.engine.Tensors;
import io.longctx.safetensors.RowSlices;
import io.longctx.safetensors.SafetensorsFile;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The gradient sum of a step's first micro-batches, saved by a mid-step checkpoint and put back on resume, so the
 * step's remaining micro-batches accumulate onto exactly the same values.
 */
final class PartialGradients {
    private PartialGradients() {
    }

    /** Live views of the parameters' gradients (a never-touched gradient reads as zeros), owned by scope. */
    static Map<String, NDArray> snapshot(NDManager scope, Map<String, NDArray> trainable) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        trainable.forEach((name, p) -> {
            NDArray grad = p.hasGradient() ? p.getGradient() : p.zerosLike();
            grad.attach(scope);
            out.put(name, grad);
        });
        return out;
    }

    /**
     * Sets each parameter's gradient to the saved sum: backward of sum(p x G) gives dp = 1 x G, bit for bit, on
     * gradients that are empty in a fresh process.
     */
    static void restore(NDManager manager, Map<String, NDArray> trainable, SafetensorsFile saved) {
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(true);
        try (NDManager scope = manager.newSubManager()) {
            for (Map.Entry<String, NDArray> e : trainable.entrySet()) {
                Shape shape = e.getValue().getShape();
                if (!saved.tensors().containsKey(e.getKey())
                        || !java.util.Arrays.equals(saved.entry(e.getKey()).shape(), shape.getShape())) {
                    throw new LongctxException(saved.path() + ": no gradient of shape " + shape + " for '"
                            + e.getKey() + "'");
                }
                NDArray values = Tensors.fromSafetensors(scope, saved, e.getKey(), RowSlices.DEFAULT_BYTES,
                        (a, b, data) -> { });
                NDArray sum = e.getValue().mul(values).sum();
                sum.attach(scope);
                JniUtils.backward((PtNDArray) sum, (PtNDArray) sum.onesLike(), false, false);
            }
        } finally {
            JniUtils.setGradMode(grad);
        }
    }
}
