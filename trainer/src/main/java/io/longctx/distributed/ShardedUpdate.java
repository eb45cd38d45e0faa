package io.longctx.distributed;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.longctx.LongctxException;
import io.longctx.engine.ParameterKernels;
import io.longctx.engine.Tensors;
import io.longctx.precision.FlatShard;
import io.longctx.precision.TrainingWeights;
import io.longctx.safetensors.RowSlices;
import io.longctx.safetensors.SafetensorsFile;
import io.longctx.train.ParameterUpdate;
import io.longctx.train.TrainConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * AdamW with its state sharded across ranks (ZeRO stage 1, and 2 under bf16): the trainable parameters, flattened
 * in their order and zero-padded to N x S elements, are owned S at a time. The step's gradient sums are
 * reduce-scattered (each rank gets the summed gradients of its shard only), each rank updates its fp32 shard with its
 * own moments, and the updated shards are all-gathered into every rank's weights. Separate fp32 masters (bf16 or
 * offload) exist only as each rank's shard; checkpoints gather them on rank 0. Under bf16 the gradient sums are
 * sharded too: each micro-batch's gradients are reduce-scattered into the rank's fp32 sum shard as soon as its
 * backward ends. Each rank checkpoints its moments; a checkpoint of another world size is re-sharded on load.
 */
public final class ShardedUpdate implements ParameterUpdate {
    private static final String GRADIENT_SHARD = "gradient_shard";
    private static final Pattern FILE = Pattern.compile("optimizer-shard-(\\d{3,})-of-(\\d{3,})\\.safetensors");

    private final ProcessGroup group;
    private final TrainConfig train;
    private final ParameterKernels kernels = ParameterKernels.create();
    private final NDManager manager;
    private final List<String> names;    // trainable, in their flat order
    private final List<NDArray> targets; // what the gathered shards are written into: whole masters or compute
    private final boolean shardedMasters;
    private final long total;
    private final long shardSize;
    private final long window;           // elements per rank and exchange: N x window x 4 bytes ~ one bucket
    private final NDArray masterShard;   // (S,) fp32 next to the masters; the weights' own when they are sharded
    private NDArray mean;                // (S,)
    private NDArray variance;            // (S,)
    private NDArray gradientShard;       // (S,) this step's summed gradients, between reduce and apply
    private final NDManager deviceManager; // on the training device, for the summed gradient shard
    private NDArray summedShard;         // (S,) sharded sums: the step's micro-batches reduced so far, or null

    /**
     * @param weights placed with {@link #shardOf} of this group where their masters are separate copies (bf16 or
     *        offload), so each rank holds only its shard of them
     */
    public ShardedUpdate(TrainingWeights weights, ProcessGroup group, TrainConfig train, long bucketBytes) {
        this.group = group;
        this.window = Math.max(1, bucketBytes / 4 / group.size());
        this.train = train;
        this.manager = weights.masterManager().newSubManager();
        this.deviceManager = exchangeDevice(weights).getManager().newSubManager();
        this.names = new ArrayList<>(weights.trainable().keySet());
        this.total = elements(weights.trainable().values());
        FlatShard mine = shardOf(total, group);
        this.shardSize = mine.length();
        this.shardedMasters = weights.masterShard().isPresent();
        if (shardedMasters) {
            this.masterShard = weights.masterShard().get();
            if (masterShard.size() != shardSize) {
                throw new IllegalStateException("master shard of " + masterShard.size() + " elements, expected "
                        + shardSize);
            }
            this.targets = new ArrayList<>(weights.trainable().values());
        } else {
            this.targets = new ArrayList<>(weights.masters().values());
            this.masterShard = group.flatSlice(targets, mine.start(), shardSize, manager);
        }
        this.mean = manager.zeros(new Shape(shardSize), DataType.FLOAT32);
        this.variance = manager.zeros(new Shape(shardSize), DataType.FLOAT32);
    }

    /** This rank's flat shard of {@code total} trainable elements. */
    public static FlatShard shardOf(long total, ProcessGroup group) {
        return FlatShard.of(total, group.rank(), group.size());
    }

    /** Elements of the tensors. */
    public static long elements(java.util.Collection<NDArray> tensors) {
        long n = 0;
        for (NDArray t : tensors) {
            n += t.size();
        }
        return n;
    }

    public static String fileName(int rank, int world) {
        return String.format("optimizer-shard-%03d-of-%03d.safetensors", rank, world);
    }

    /** Elements of the optimizer state this rank holds per moment, and over all ranks without padding. */
    public long shardElements() {
        return shardSize;
    }

    /**
     * With sharded sums (bf16), each micro-batch's gradients are reduce-scattered at once and added into this rank's
     * fp32 shard, and the bf16 gradients cleared: no rank holds whole fp32 sums (ZeRO-2).
     */
    @Override
    public void afterMicroBatch(TrainingWeights weights) {
        if (!weights.sumsSharded()) {
            weights.afterMicroBatch();
            return;
        }
        try (NDManager scope = deviceManager.newSubManager()) {
            NDArray part = group.reduceScatterFlat(weights.computeGradients(scope), shardSize, window,
                    deviceManager);                                                        // (S,) fp32
            summedShard().addi(part);               // part is an inference tensor: added into our own
            part.close();
        }
        weights.clearGradients();
    }

    @Override
    public Map<String, NDArray> partialGradients(TrainingWeights weights, NDManager scope) {
        if (!weights.sumsSharded()) {
            return ParameterUpdate.super.partialGradients(weights, scope);
        }
        return Map.of(GRADIENT_SHARD, summedShard());
    }

    @Override
    public void restorePartialGradients(TrainingWeights weights, SafetensorsFile saved) {
        if (!weights.sumsSharded()) {
            ParameterUpdate.super.restorePartialGradients(weights, saved);
            return;
        }
        if (!saved.tensors().containsKey(GRADIENT_SHARD)
                || !java.util.Arrays.equals(saved.entry(GRADIENT_SHARD).shape(), new long[] {shardSize})) {
            throw new LongctxException(saved.path() + ": no '" + GRADIENT_SHARD + "' of " + shardSize
                    + " elements (written by another world size or precision)");
        }
        NDArray values = Tensors.fromSafetensors(deviceManager, saved, GRADIENT_SHARD, RowSlices.DEFAULT_BYTES,
                (a, b, d) -> { });
        NDArray onDevice = values.toDevice(exchangeDevice(weights).getDevice(), true);
        if (onDevice != values) {
            values.close();
            onDevice.attach(deviceManager);
        }
        summedShard = onDevice;
    }

    private NDArray summedShard() {
        if (summedShard == null) {
            summedShard = deviceManager.zeros(new Shape(shardSize), DataType.FLOAT32);
        }
        return summedShard;
    }

    @Override
    public double reduce(TrainingWeights weights, NDManager scope) {
        NDArray shard;                                                                      // (S,)
        if (weights.sumsSharded()) {
            shard = summedShard();
            summedShard = null;
        } else {
            shard = group.reduceScatterFlat(weights.gradientSums(scope), shardSize, window, manager);
        }
        if (!shard.getDevice().equals(masterShard.getDevice())) {
            NDArray moved = shard.toDevice(masterShard.getDevice(), true);
            shard.close();
            shard = moved;
            shard.attach(manager);
        }
        weights.clearGradients();
        gradientShard = shard;
        double local = kernels.gradNorm(List.of(shard));
        return Math.sqrt(group.sum(local * local)[0]);
    }

    @Override
    public void apply(TrainingWeights weights, NDManager scope, int step, double lr, double gradScale) {
        kernels.adamw(List.of(masterShard), List.of(gradientShard), List.of(mean), List.of(variance), step, lr,
                train.beta1(), train.beta2(), train.weightDecay(), train.eps(), gradScale);
        dropGradients();
        group.allGatherFlat(masterShard, targets, exchangeDevice(weights), window);
        if (!shardedMasters) {
            weights.refreshCompute();
        }
    }

    /** A tensor on the training device: collectives run there (NCCL needs device tensors, Gloo takes any). */
    private static NDArray exchangeDevice(TrainingWeights weights) {
        return weights.trainable().values().iterator().next();
    }

    /**
     * With sharded masters, every rank sends its shard and rank 0 gathers the fp32 values in windows into host
     * tensors owned by {@code scope} (the other ranks get an empty map and hold one window at a time).
     */
    @Override
    public Map<String, NDArray> checkpointWeights(TrainingWeights weights, boolean adapterOnly, NDManager scope) {
        if (!shardedMasters) {
            return ParameterUpdate.super.checkpointWeights(weights, adapterOnly, scope);
        }
        boolean keeps = group.rank() == 0;
        Map<String, NDArray> gathered = new java.util.LinkedHashMap<>();
        if (keeps) {
            weights.trainable().forEach((name, t) -> gathered.put(name, scope.zeros(t.getShape(), DataType.FLOAT32)));
        }
        group.allGatherFlat(masterShard, new ArrayList<>(gathered.values()), exchangeDevice(weights), window);
        if (!keeps || adapterOnly) {
            return gathered;
        }
        Map<String, NDArray> out = new java.util.LinkedHashMap<>();
        weights.compute().tensors().forEach((name, tensor) -> out.put(name, gathered.getOrDefault(name, tensor)));
        return out;
    }

    @Override
    public void discard(TrainingWeights weights) {
        dropGradients();
    }

    private void dropGradients() {
        if (gradientShard != null) {
            gradientShard.close();
            gradientShard = null;
        }
    }

    @Override
    public Map<String, Map<String, NDArray>> checkpointFiles() {
        Map<String, NDArray> moments = new java.util.LinkedHashMap<>();     // fixed order: identical bytes
        moments.put("m", mean);
        moments.put("v", variance);
        return Map.of(fileName(group.rank(), group.size()), moments);
    }

    @Override
    public void load(Path checkpoint, Consumer<String> log) {
        TreeMap<Integer, Path> files = shardFiles(checkpoint);
        Path replica = checkpoint.resolve(io.longctx.train.ReplicatedUpdate.FILE);
        if (files.isEmpty() && Files.isRegularFile(replica)) {
            log.accept("sharding the replicated optimizer state of " + checkpoint.getFileName() + " over "
                    + group.size() + " ranks");
            mean = replace(mean, sliceOfReplica(replica, "m."));
            variance = replace(variance, sliceOfReplica(replica, "v."));
            return;
        }
        int saved = files.isEmpty() ? 0 : Integer.parseInt(matcher(files.firstEntry().getValue()).group(2));
        if (files.isEmpty() || files.size() != saved || files.firstKey() != 0 || files.lastKey() != saved - 1) {
            throw new LongctxException(checkpoint + ": the sharded optimizer state is incomplete (" + files.size()
                    + " shard files" + (saved > 0 ? " of " + saved : "") + ")");
        }
        if (saved != group.size()) {
            log.accept("re-sharding the optimizer state of " + checkpoint.getFileName() + " from " + saved
                    + " to " + group.size() + " ranks (results then equal an uninterrupted run within reduction-"
                    + "order tolerance, not bit for bit)");
        }
        mean = replace(mean, slice(checkpoint, "m"));
        variance = replace(variance, slice(checkpoint, "v"));
    }

    private NDArray replace(NDArray old, NDArray next) {
        old.close();
        next.attach(manager);
        return next;
    }

    /** This rank's elements of one moment of a replicated checkpoint, the parameters' moments in their order. */
    private NDArray sliceOfReplica(Path file, String prefix) {
        try (NDManager scope = manager.newSubManager(); SafetensorsFile saved = SafetensorsFile.open(file)) {
            List<NDArray> moments = new ArrayList<>(names.size());
            for (String name : names) {
                if (!saved.tensors().containsKey(prefix + name)) {
                    throw new LongctxException(file + ": no optimizer state '" + prefix + name + "'");
                }
                moments.add(Tensors.fromSafetensors(scope, saved, prefix + name, RowSlices.DEFAULT_BYTES,
                        (a, b, d) -> { }));
            }
            NDArray out = group.flatSlice(moments, shardOf(total, group).start(), shardSize, manager);
            out.attach(scope.getParentManager());
            return out;
        }
    }

    /** One moment of a sharded checkpoint with every shard joined in rank order (padding included). */
    public static NDArray joined(Path checkpoint, String name, NDManager owner) {
        TreeMap<Integer, Path> files = shardFiles(checkpoint);
        NDList parts = new NDList();
        for (Path file : files.values()) {
            try (SafetensorsFile shard = SafetensorsFile.open(file)) {
                if (!shard.tensors().containsKey(name)) {
                    throw new LongctxException(file + ": no tensor '" + name + "'");
                }
                parts.add(Tensors.fromSafetensors(owner, shard, name, RowSlices.DEFAULT_BYTES, (a, b, d) -> { }));
            }
        }
        return parts.size() == 1 ? parts.get(0) : NDArrays.concat(parts);
    }

    /** Elements [r S, (r+1) S) of the concatenation of every saved shard of one moment, zero-padded. */
    private NDArray slice(Path checkpoint, String name) {
        try (NDManager scope = manager.newSubManager()) {
            NDArray flat = joined(checkpoint, name, scope);                                    // (N' S',)
            long start = shardOf(total, group).start();
            long n = Math.min(Math.max(0, Math.min(total, flat.size()) - start), shardSize);
            NDArray out = manager.zeros(new Shape(shardSize), DataType.FLOAT32);
            if (n > 0) {
                out.set(new NDIndex("0:{}", n), flat.get(new NDIndex("{}:{}", start, start + n)));
            }
            return out;
        }
    }

    /** The saved shard files of a checkpoint by rank. */
    public static TreeMap<Integer, Path> shardFiles(Path checkpoint) {
        TreeMap<Integer, Path> files = new TreeMap<>();
        try (Stream<Path> list = Files.list(checkpoint)) {
            for (Path file : list.toList()) {
                Matcher m = FILE.matcher(file.getFileName().toString());
                if (m.matches()) {
                    files.put(Integer.parseInt(m.group(1)), file);
                }
            }
        } catch (IOException e) {
            throw new LongctxException(checkpoint + ": cannot list (" + e.getMessage() + ")");
        }
        return files;
    }

    private static Matcher matcher(Path file) {
        Matcher m = FILE.matcher(file.getFileName().toString());
        m.matches();
        return m;
    }

    @Override
    public void close() {
        kernels.close();
        deviceManager.close();
        manager.close();
    }
}
