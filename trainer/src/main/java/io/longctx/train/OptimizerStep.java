package io.longctx.train;

import ai.djl.ndarray.NDManager;
import io.longctx.data.pack.PackedSequence;
import io.longctx.distributed.DataParallel;
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
        return run(manager, runner, new ReplicatedUpdate(optimizer, null, 0), weights, microBatches, step, lr,
                clipNorm, Start.FRESH, done -> false, DataParallel.SINGLE);
    }

    /**
     * @param microBatches all of the step's micro-batches; this rank runs its share ({@link DataParallel#mine})
     * @param start micro-batches of this rank's share already accumulated
     * @param stopAfter asked after each of this rank's micro-batches with the number done so far; true on any rank
     *     stops the step there on all (the gradients stay accumulated for a checkpoint) unless it was the last
     */
    public static Outcome run(NDManager manager, StepRunner runner, ParameterUpdate update, TrainingWeights weights,
            List<List<PackedSequence>> microBatches, int step, double lr, double clipNorm, Start start,
            IntPredicate stopAfter, DataParallel parallel) {
        long tokens = 0;
        for (List<PackedSequence> micro : microBatches) {
            tokens += StepRunner.lossTokens(micro);
        }
        List<List<PackedSequence>> mine = parallel.mine(microBatches);
        double nll = start.nll();
        for (int i = start.done(); i < mine.size(); i++) {
            StepRunner.GradientsReady ready = i == mine.size() - 1 ? update.overlap(weights)
                    : StepRunner.GradientsReady.NONE;
            nll += runner.forwardBackward(manager, mine.get(i), 1.0 / Math.max(1, tokens), ready);
            update.afterMicroBatch(weights);
            int done = i + 1;
            if (done < mine.size() && parallel.any(stopAfter.test(done))) {
                return new Outcome(Double.NaN, Double.NaN, 1.0, tokens, true, done, nll, true);
            }
        }
        double loss = parallel.sum(nll) / Math.max(1, tokens);
        try (NDManager scope = manager.newSubManager()) {
            double norm = update.reduce(weights, scope);
            boolean finite = Double.isFinite(loss) && Double.isFinite(norm);
            double clip = clipNorm > 0 && finite ? Math.min(1.0, clipNorm / (norm + 1e-6)) : 1.0;
            if (finite) {
                update.apply(weights, scope, step, lr, clip);
            } else {
                update.discard(weights);
            }
            return new Outcome(loss, norm, clip, tokens, finite, mine.size(), nll, false);
        }
    }
}
