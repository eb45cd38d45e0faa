package io.longctx.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.longctx.precision.TrainingWeights;
import io.longctx.safetensors.SafetensorsFile;
import java.nio.file.Path;
import java.util.Map;

/**
 * The end of an optimizer step once every micro-batch's gradient is summed: combine the sums across ranks, measure
 * the global norm, then update (or, for a non-finite step, discard). Implementations differ in who holds the
 * optimizer state: every rank all of it, or each rank a shard.
 */
public interface ParameterUpdate extends AutoCloseable {
    /**
     * What to tell backward of the rank's last micro-batch of a step, so the exchange of finished layers' gradients
     * can start while earlier layers are still computed; {@link StepRunner.GradientsReady#NONE} when it cannot.
     */
    default StepRunner.GradientsReady overlap(TrainingWeights weights) {
        return StepRunner.GradientsReady.NONE;
    }

    /** After each micro-batch's backward; by default the weights add bf16 gradients into their fp32 sums. */
    default void afterMicroBatch(TrainingWeights weights) {
        weights.afterMicroBatch();
    }

    /** This rank's gradient sums so far, for a checkpoint taken inside a step (views owned by scope). */
    default Map<String, NDArray> partialGradients(TrainingWeights weights, NDManager scope) {
        return weights.gradientSumsByName(scope);
    }

    /** Sets the gradient sums to those {@link #partialGradients} saved, exactly. */
    default void restorePartialGradients(TrainingWeights weights, SafetensorsFile saved) {
        weights.restoreGradientSums(saved);
    }

    /** Combines this rank's gradient sums with the other ranks' and returns the global gradient norm. */
    double reduce(TrainingWeights weights, NDManager scope);

    /** AdamW with every gradient multiplied by {@code gradScale}; the compute weights take the new values. */
    void apply(TrainingWeights weights, NDManager scope, int step, double lr, double gradScale);

    /** A skipped step: the reduced gradients are dropped. */
    void discard(TrainingWeights weights);

    /**
     * The fp32 weights a checkpoint saves, every tensor of the model or (adapterOnly) the trainable ones. Every rank
     * calls it (it may be collective); rank 0's answer is what is written.
     */
    default Map<String, NDArray> checkpointWeights(TrainingWeights weights, boolean adapterOnly, NDManager scope) {
        return adapterOnly ? weights.trainableCheckpointTensors() : weights.checkpointTensors();
    }

    /** The files this rank writes into a checkpoint folder, by file name, each a map of named tensors. */
    Map<String, Map<String, NDArray>> checkpointFiles();

    /** Restores the state from a checkpoint folder written by this implementation (any world size it supports). */
    void load(Path checkpoint, java.util.function.Consumer<String> log);

    /** Opens a safetensors file of a checkpoint, naming the folder in the error when it is missing. */
    static SafetensorsFile open(Path checkpoint, String name) {
        Path file = checkpoint.resolve(name);
        if (!java.nio.file.Files.isRegularFile(file)) {
            throw new io.longctx.LongctxException(checkpoint + ": no " + name + " (written by a run with another "
                    + "optimizer layout or world size)");
        }
        return SafetensorsFile.open(file);
    }

    @Override
    void close();
}
