package io.longctx.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.longctx.distributed.ProcessGroup;
import io.longctx.precision.TrainingWeights;
import io.longctx.safetensors.SafetensorsFile;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Every rank holds the whole AdamW state and applies the same update: gradient sums are all-reduced in flattened
 * buckets first (with one rank, nothing is communicated). Rank 0 writes the moments.
 */
public final class ReplicatedUpdate implements ParameterUpdate {
    public static final String FILE = "optimizer.safetensors";

    private final AdamW optimizer;
    private final ProcessGroup group;
    private final long bucketBytes;

    /** @param group the ranks, or null for one process */
    public ReplicatedUpdate(AdamW optimizer, ProcessGroup group, long bucketBytes) {
        this.optimizer = optimizer;
        this.group = group;
        this.bucketBytes = bucketBytes;
    }

    public AdamW optimizer() {
        return optimizer;
    }

    @Override
    public double reduce(TrainingWeights weights, NDManager scope) {
        java.util.List<NDArray> sums = weights.gradientSums(scope);
        if (group != null) {
            group.allReduceSum(sums, bucketBytes);
        }
        return optimizer.gradNorm(sums);
    }

    @Override
    public void apply(TrainingWeights weights, NDManager scope, int step, double lr, double gradScale) {
        optimizer.step(weights.masters(), weights.gradientsForUpdate(scope), step, lr, gradScale);
        weights.refreshCompute();
    }

    @Override
    public void discard(TrainingWeights weights) {
        weights.clearGradients();
    }

    @Override
    public Map<String, Map<String, NDArray>> checkpointFiles() {
        return group == null || group.rank() == 0 ? Map.of(FILE, optimizer.state()) : Map.of();
    }

    @Override
    public void load(Path checkpoint, Consumer<String> log) {
        if (!java.nio.file.Files.isRegularFile(checkpoint.resolve(FILE))
                && !io.longctx.distributed.ShardedUpdate.shardFiles(checkpoint).isEmpty()) {
            // written with the optimizer state sharded over several ranks: joined again here
            log.accept("joining the sharded optimizer state of " + checkpoint.getFileName() + " into one replica");
            try (ai.djl.ndarray.NDManager scope = ai.djl.ndarray.NDManager.newBaseManager()) {
                optimizer.loadFlat(io.longctx.distributed.ShardedUpdate.joined(checkpoint, "m", scope),
                        io.longctx.distributed.ShardedUpdate.joined(checkpoint, "v", scope));
            }
            return;
        }
        try (SafetensorsFile moments = ParameterUpdate.open(checkpoint, FILE)) {
            optimizer.load(moments);
        }
    }

    @Override
    public void close() {
        optimizer.close();
    }
}
