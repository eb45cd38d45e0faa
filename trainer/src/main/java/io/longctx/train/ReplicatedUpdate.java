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
     * Each finished segment's step sums are launched at once (at most three buckets in flight): under fp32 the
     * gradients backward wrote, under bf16 the fp32 sums they are added into first; offload copies the reduced sums
     * to the host afterwards as without overlap.
     */
    @Override
    public StepRunner.GradientsReady overlap(TrainingWeights weights) {
        if (group == null) {
            return StepRunner.GradientsReady.NONE;
        }
        int layers = weights.compute().config().numLayers();
        return (from, to) -> {
            java.util.List<String> names = new java.util.ArrayList<>();
            for (String name : weights.trainable().keySet()) {
                int layer = layerOf(name, layers);
                if (layer >= from && layer < to) {
                    names.add(name);
                }
            }
            java.util.List<NDArray> sums = weights.finishedSums(names);
            if (weights.precision() == io.longctx.engine.Precision.FP32) {
                names.removeIf(name -> !weights.trainable().get(name).hasGradient());
            }
            launched.addAll(names);
            inFlight.launch(sums, bucketBytes);
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
