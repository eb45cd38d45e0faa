package io.longctx.train;

import ai.djl.ndarray.NDManager;
import io.longctx.data.pack.PackedSequence;
import io.longctx.precision.TrainingWeights;
import java.util.List;
import java.util.function.IntPredicate;

/**
 * One optimizer step: forward and backward of every micro-batch with the loss normalised by the step's total loss
 * tokens (so k micro-batches equal one k-times-larger batch), the global gradient norm, clipping as a gradient
 * scale, and the AdamW update; a non-finite loss or norm skips the update and clears the gradients. A step can
 * start part-way (its first micro-batches' gradients already accumulated, as a mid-step checkpoint restores them)
 * and can stop part-way, between micro-batches, when asked to.
 */
public final class OptimizerStep {
    private OptimizerStep() {
    }

    /**
     * @param loss mean NLL per loss token of the step (NaN when interrupted)
     * @param clipScale the factor the gradients were multiplied by (1 when not clipped)
     * @param finite whether the update was applied
     * @param microBatchesDone micro-batches whose gradients are accumulated; fewer than the step's when interrupted
     * @param nll summed NLL of those micro-batches
     */
    public record Outcome(double loss, double gradNorm, double clipScale, long tokens, boolean finite,
            int microBatchesDone, double nll, boolean interrupted) {
    }

    /** Where a step starts: its first {@code done} micro-batches already accumulated with summed NLL {@code nll}. */
    public record Start(int done, double nll) {
        public static final Start FRESH = new Start(0, 0);
    }

    public static Outcome run(NDManager manager, StepRunner runner, AdamW optimizer, TrainingWeights weights,
            List<List<PackedSequence>> microBatches, int step, double lr, double clipNorm) {
        return run(manager, runner, optimizer, weights, microBatches, step, lr, clipNorm, Start.FRESH, done -> false);
    }

    /**
     * @param stopAfter asked after each micro-batch with the number done so far; true stops the step there (the
     *     gradients stay accumulated for a checkpoint) unless it was the last micro-batch
     */
    public static Outcome run(NDManager manager, StepRunner runner, AdamW optimizer, TrainingWeights weights,
            List<List<PackedSequence>> microBatches, int step, double lr, double clipNorm, Start start,
            IntPredicate stopAfter) {
        long tokens = 0;
        for (List<PackedSequence> micro : microBatches) {
            tokens += StepRunner.lossTokens(micro);
        }
        double nll = start.nll();
        for (int i = start.done(); i < microBatches.size(); i++) {
            nll += runner.forwardBackward(manager, microBatches.get(i), 1.0 / Math.max(1, tokens));
            weights.afterMicroBatch();
            int done = i + 1;
            if (done < microBatches.size() && stopAfter.test(done)) {
                return new Outcome(Double.NaN, Double.NaN, 1.0, tokens, true, done, nll, true);
            }
        }
        double loss = nll / Math.max(1, tokens);
        try (NDManager scope = manager.newSubManager()) {
            double norm = optimizer.gradNorm(weights.gradientSums(scope));
            boolean finite = Double.isFinite(loss) && Double.isFinite(norm);
            double clip = clipNorm > 0 && finite ? Math.min(1.0, clipNorm / (norm + 1e-6)) : 1.0;
            if (finite) {
                optimizer.step(weights.masters(), weights.gradientsForUpdate(scope), step, lr, clip);
                weights.refreshCompute();
            } else {
                weights.clearGradients();
            }
            return new Outcome(loss, norm, clip, tokens, finite, microBatches.size(), nll, false);
        }
    }
}
