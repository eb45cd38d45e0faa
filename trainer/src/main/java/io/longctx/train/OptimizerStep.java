package io.longctx.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.longctx.data.pack.PackedSequence;
import java.util.List;
import java.util.Map;

/**
 * One optimizer step: forward and backward of every micro-batch with the loss normalised by the step's total loss
 * tokens (so k micro-batches equal one k-times-larger batch), the global gradient norm, clipping as a gradient
 * scale, and the AdamW update; a non-finite loss or norm skips the update and clears the gradients.
 */
public final class OptimizerStep {
    private OptimizerStep() {
    }

    /**
     * @param loss mean NLL per loss token of the step
     * @param clipScale the factor the gradients were multiplied by (1 when not clipped)
     * @param finite whether the update was applied
     */
    public record Outcome(double loss, double gradNorm, double clipScale, long tokens, boolean finite) {
    }

    public static Outcome run(NDManager manager, StepRunner runner, AdamW optimizer, Map<String, NDArray> trainable,
            List<List<PackedSequence>> microBatches, int step, double lr, double clipNorm) {
        long tokens = 0;
        for (List<PackedSequence> micro : microBatches) {
            tokens += StepRunner.lossTokens(micro);
        }
        double nll = 0;
        for (List<PackedSequence> micro : microBatches) {
            nll += runner.forwardBackward(manager, micro, 1.0 / Math.max(1, tokens));
        }
        double loss = nll / Math.max(1, tokens);
        double norm = optimizer.gradNorm(trainable);
        boolean finite = Double.isFinite(loss) && Double.isFinite(norm);
        double clip = clipNorm > 0 && finite ? Math.min(1.0, clipNorm / (norm + 1e-6)) : 1.0;
        if (finite) {
            optimizer.step(trainable, step, lr, clip);
        } else {
            for (NDArray p : trainable.values()) {
                JniUtils.zeroGrad((PtNDArray) p);
            }
        }
        return new Outcome(loss, norm, clip, tokens, finite);
    }
}
