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
    private final ProcessGroup.Pending inFlight;                      // null for one process
    private final java.util.Set<String> launched = new java.util.HashSet<>();   // exchanged during backward

    /** @param group the ranks, or null for one process */
    public ReplicatedUpdate(AdamW optimizer, ProcessGroup group, long bucketBytes) {
        this.optimizer = optimizer;
        this.group = group;
        this.bucketBytes = bucketBytes;
        this.inFlight = group == null ? null : group.pending();
    }

    public AdamW optimizer() {
        return optimizer;
    }

    /**
     * With fp32 weights updated in place the gradients backward writes are the sums themselves, so each finished
     * segment's are launched at once (at most three buckets in flight); bf16 and offloaded runs sum them after the
     * micro-batch and exchange everything in {@link #reduce}.
     */
    @Override
    public StepRunner.GradientsReady overlap(TrainingWeights weights) {
        if (group == null || weights.precision() != io.longctx.engine.Precision.FP32
                || weights.offload() != io.longctx.precision.Offload.NONE) {
            return StepRunner.GradientsReady.NONE;
        }
        int layers = weights.compute().config().numLayers();
        return (from, to) -> {
            java.util.List<NDArray> grads = new java.util.ArrayList<>();
            for (Map.Entry<String, NDArray> e : weights.trainable().entrySet()) {
                int layer = layerOf(e.getKey(), layers);
                if (layer >= from && layer < to && e.getValue().hasGradient()) {
                    grads.add(e.getValue().getGradient());
                    launched.add(e.getKey());
                }
            }
            inFlight.launch(grads, bucketBytes);
        };
    }

    /** The decoder layer a parameter belongs to (model.layers.N.), numLayers for the output head, else -1. */
    static int layerOf(String name, int numLayers) {
        if (name.startsWith("lm_head.") || name.startsWith("model.norm.")) {
            return numLayers;
        }
        if (!name.startsWith("model.layers.")) {
            return -1;
        }
        int end = name.indexOf('.', "model.layers.".length());
        return end < 0 ? -1 : Integer.parseInt(name.substring("model.layers.".length(), end));
    }

    @Override
    public double reduce(TrainingWeights weights, NDManager scope) {
        java.util.List<NDArray> sums = weights.gradientSums(scope);
        if (group != null) {
            inFlight.finishAll();
            java.util.List<NDArray> rest = new java.util.ArrayList<>();
            int i = 0;
            for (String name : weights.trainable().keySet()) {
                if (!launched.contains(name)) {
                    rest.add(sums.get(i));
                }
                i++;
            }
            launched.clear();
            group.allReduceSum(rest, bucketBytes);
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
