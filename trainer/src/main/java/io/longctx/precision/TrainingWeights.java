package io.longctx.precision;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.longctx.LongctxException;
import io.longctx.engine.Precision;
import io.longctx.engine.PrecisionOps;
import io.longctx.engine.Tensors;
import io.longctx.model.LlamaWeights;
import io.longctx.safetensors.RowSlices;
import io.longctx.safetensors.SafetensorsFile;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The weights of a training run in their three roles. <em>Compute</em> weights are what the model runs on: on the
 * training device, in the run's precision, the trainable ones leaves that collect gradients. <em>Masters</em> are
 * the fp32 values the optimizer updates: the compute weights themselves under fp32 without offload, otherwise fp32
 * copies on the device or (offload: host) in host memory. Gradients are summed in fp32 across a step's micro-batches
 * on the device (in the compute weights' own gradients under fp32, else in separate sums); with offload they cross
 * to host once per step, and the refreshed masters are copied back into the compute weights once per step. Under a
 * sharded optimizer, separate masters are kept only as this rank's flat shard; the update then gathers the new values
 * straight into the compute weights.
 */
public final class TrainingWeights implements AutoCloseable {
    private final Precision precision;
    private final Offload offload;
    private final NDManager deviceManager;
    private final NDManager hostManager;
    private final LlamaWeights compute;
    private final Map<String, NDArray> trainable;     // compute tensors that collect gradients
    private final Map<String, NDArray> masters;       // fp32, device or host; empty when sharded
    private final NDArray masterShard;                // (S,) fp32 flat shard of the masters, or null
    private final boolean sumsSharded;                // no whole fp32 sums: the sharded update keeps a shard
    private final Map<String, NDArray> sums;          // fp32 gradient sums on the device; empty: compute gradients
    private final Map<String, NDArray> hostGradients; // fp32 next to host masters; empty without offload
    private final Set<String> summedEarly = new java.util.HashSet<>();  // added into sums during this backward

    private TrainingWeights(Precision precision, Offload offload, NDManager deviceManager, NDManager hostManager,
            LlamaWeights compute, Map<String, NDArray> trainable, Map<String, NDArray> masters, NDArray masterShard,
            boolean sumsSharded, Map<String, NDArray> sums, Map<String, NDArray> hostGradients) {
        this.precision = precision;
        this.offload = offload;
        this.deviceManager = deviceManager;
        this.hostManager = hostManager;
        this.compute = compute;
        this.trainable = Collections.unmodifiableMap(trainable);
        this.masters = Collections.unmodifiableMap(masters);
        this.masterShard = masterShard;
        this.sumsSharded = sumsSharded;
        this.sums = sums;
        this.hostGradients = hostGradients;
    }

    /** {@link #place(LlamaWeights, Set, Precision, Offload, NDManager, FlatShard)} with whole masters. */
    public static TrainingWeights place(LlamaWeights loaded, Set<String> trainableNames, Precision precision,
            Offload offload, NDManager device) {
        return place(loaded, trainableNames, precision, offload, device, null);
    }

    /**
     * Places fp32 weights (in any manager, usually the host's) for training: each tensor is moved and cast as its
     * role needs, and a loaded tensor no role keeps is freed at once, so peak memory grows one tensor at a time.
     *
     * @param trainableNames the names that train; the rest are frozen and kept only in the compute precision
     * @param shard this rank's part of a sharded optimizer, or null: where masters are separate fp32 copies (bf16,
     *        or offload), only that flat range of them is kept, and no host gradients are allocated
     */
    public static TrainingWeights place(LlamaWeights loaded, Set<String> trainableNames, Precision precision,
            Offload offload, NDManager device, FlatShard shard) {
        NDManager deviceManager = device.newSubManager();
        NDManager hostManager = offload == Offload.HOST ? NDManager.newBaseManager(Device.cpu()) : deviceManager;
        boolean shardsMasters = shard != null && (precision != Precision.FP32 || offload == Offload.HOST);
        // bf16 under a sharded optimizer: the update sums each micro-batch's gradients into its shard (ZeRO-2)
        boolean shardsSums = shard != null && precision != Precision.FP32;
        NDArray masterShard = shardsMasters
                ? hostManager.zeros(new ai.djl.ndarray.types.Shape(shard.length()), DataType.FLOAT32) : null;
        long flatOffset = 0;                                             // of this tensor among the trainable ones
        Map<String, NDArray> computeTensors = new LinkedHashMap<>();
        Map<String, NDArray> trainable = new LinkedHashMap<>();
        Map<String, NDArray> masters = new LinkedHashMap<>();
        Map<String, NDArray> sums = new LinkedHashMap<>();
        Map<String, NDArray> hostGradients = new LinkedHashMap<>();
        PrecisionOps ops = PrecisionOps.shared();
        for (Map.Entry<String, NDArray> e : loaded.tensors().entrySet()) {
            String name = e.getKey();
            NDArray value = e.getValue();                                   // fp32
            boolean trains = trainableNames.contains(name);
            NDArray master = null;
            if (trains && shardsMasters) {
                copyOverlap(value, flatOffset, shard, masterShard);
            } else if (trains) {
                master = offload == Offload.HOST ? onDevice(value, hostManager) : onDevice(value, deviceManager);
                masters.put(name, master);
            }
            if (trains) {
                flatOffset += value.size();
            }
            NDArray weight;
            if (master != null && precision == Precision.FP32 && offload == Offload.NONE) {
                weight = master;                                            // the masters are the compute weights
            } else if (precision == Precision.FP32 && !trains) {
                weight = onDevice(value, deviceManager);
            } else {
                NDArray onDevice = master != null && offload == Offload.NONE ? master : onDevice(value, deviceManager);
                weight = ops.cast(onDevice, precision);                     // always a copy
                weight.attach(deviceManager);
                if (onDevice != master && onDevice != value) {
                    onDevice.close();
                }
            }
            computeTensors.put(name, weight);
            if (trains) {
                weight.setRequiresGradient(true);
                trainable.put(name, weight);
                if (weight != master && precision != Precision.FP32 && !shardsSums) {
                    sums.put(name, deviceManager.zeros(weight.getShape(), DataType.FLOAT32));
                }
                if (offload == Offload.HOST && !shardsMasters) {
                    hostGradients.put(name, hostManager.zeros(weight.getShape(), DataType.FLOAT32));
                }
            }
            if (value != master && value != weight) {
                value.close();
            }
        }
        LlamaWeights computeWeights = LlamaWeights.of(loaded.config(), deviceManager, computeTensors,
                loaded.loraScale());
        return new TrainingWeights(precision, offload, deviceManager, hostManager, computeWeights, trainable,
                masters, masterShard, shardsSums, sums, hostGradients);
    }

    /** Copies the part of value (flat elements [offset, offset + n) of the trainables) that falls in the shard. */
    private static void copyOverlap(NDArray value, long offset, FlatShard shard, NDArray target) {
        long lo = Math.max(offset, shard.start());
        long hi = Math.min(offset + value.size(), shard.start() + shard.length());
        if (lo >= hi) {
            return;
        }
        try (NDArray flat = value.reshape(-1); NDArray piece = flat.get(new NDIndex("{}:{}", lo - offset,
                hi - offset)); NDArray moved = piece.toDevice(target.getDevice(), false)) {
            target.set(new NDIndex("{}:{}", lo - shard.start(), hi - shard.start()), moved);
        }
    }

    /** value itself when it already lives with that manager's device, else an fp32 copy attached there. */
    private static NDArray onDevice(NDArray value, NDManager manager) {
        if (value.getDevice().equals(manager.getDevice())) {
            value.attach(manager);
            return value;
        }
        NDArray moved = value.toDevice(manager.getDevice(), true);
        moved.attach(manager);
        return moved;
    }

    public Precision precision() {
        return precision;
    }

    public Offload offload() {
        return offload;
    }

    /** What the model runs on. */
    public LlamaWeights compute() {
        return compute;
    }

    /** The compute tensors that collect gradients, by name. */
    public Map<String, NDArray> trainable() {
        return trainable;
    }

    /** The fp32 values the optimizer updates, by name (on the host under offload); empty when they are sharded. */
    public Map<String, NDArray> masters() {
        return masters;
    }

    /**
     * This rank's flat fp32 shard of separate masters (bf16 or offload under a sharded optimizer), the only master
     * values it holds; empty when the masters are whole (or are the compute weights).
     */
    public java.util.Optional<NDArray> masterShard() {
        return java.util.Optional.ofNullable(masterShard);
    }

    /** The manager the optimizer keeps its moments in: next to the masters. */
    public NDManager masterManager() {
        return hostManager;
    }

    /**
     * After each micro-batch's backward: bf16 gradients are added into the fp32 sums and cleared (those that
     * {@link #finishedSums} took during the backward already are skipped).
     */
    public void afterMicroBatch() {
        requireWholeSums();
        if (sums.isEmpty()) {
            return;
        }
        Set<String> rest = new java.util.LinkedHashSet<>(sums.keySet());
        rest.removeAll(summedEarly);
        summedEarly.clear();
        if (rest.isEmpty()) {
            return;
        }
        List<NDArray> targets = new ArrayList<>();
        rest.forEach(name -> targets.add(sums.get(name)));
        try (NDManager scope = deviceManager.newSubManager()) {
            PrecisionOps.shared().accumulate(targets, liveGradients(scope, rest));
        }
    }

    /**
     * During the step's last backward, once these tensors' gradients are final: their step sums on the device, as
     * new handles the caller closes (views; writing into them writes the sums). Under fp32 they are the gradients
     * backward wrote (tensors it never reached are left out); otherwise the bf16 gradients are added into the fp32
     * sums now and {@link #afterMicroBatch} skips them.
     */
    public List<NDArray> finishedSums(List<String> names) {
        requireWholeSums();
        List<NDArray> out = new ArrayList<>(names.size());
        if (sums.isEmpty()) {
            for (String name : names) {
                NDArray p = trainable.get(name);
                if (p.hasGradient()) {
                    out.add(p.getGradient());
                }
            }
            return out;
        }
        List<NDArray> targets = new ArrayList<>(names.size());
        names.forEach(name -> targets.add(sums.get(name)));
        try (NDManager scope = deviceManager.newSubManager()) {
            PrecisionOps.shared().accumulate(targets, liveGradients(scope, new java.util.LinkedHashSet<>(names)));
        }
        summedEarly.addAll(names);
        for (NDArray sum : targets) {
            out.add(sum.reshape(sum.getShape()));                         // a view: the sum stays ours
        }
        return out;
    }

    /** The step's fp32 gradient sums on the device (views owned by scope), in trainable order. */
    public List<NDArray> gradientSums(NDManager scope) {
        requireWholeSums();
        return sums.isEmpty() ? liveGradients(scope, trainable.keySet()) : new ArrayList<>(sums.values());
    }

    /** The gradient sums by name, for a mid-step checkpoint (views owned by scope). */
    public Map<String, NDArray> gradientSumsByName(NDManager scope) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        List<NDArray> values = gradientSums(scope);
        int i = 0;
        for (String name : trainable.keySet()) {
            out.put(name, values.get(i++));
        }
        return out;
    }

    /**
     * The gradients the update reads, next to the masters: under offload the device sums are copied to host once
     * and cleared; otherwise the sums themselves. The update zeroes what it reads.
     */
    public List<NDArray> gradientsForUpdate(NDManager scope) {
        requireWholeMasters();
        List<NDArray> deviceSums = gradientSums(scope);
        if (offload == Offload.NONE) {
            return deviceSums;
        }
        List<NDArray> host = new ArrayList<>(hostGradients.values());
        PrecisionOps.shared().copy(host, deviceSums);
        zero(deviceSums);
        return host;
    }

    /** After the update: the compute weights take the masters' new values (cast and moved in one call). */
    public void refreshCompute() {
        requireWholeMasters();
        if (precision == Precision.FP32 && offload == Offload.NONE) {
            return;
        }
        PrecisionOps.shared().copy(new ArrayList<>(trainable.values()), new ArrayList<>(masters.values()));
    }

    /** A skipped step: every gradient and sum back to zero. */
    public void clearGradients() {
        try (NDManager scope = deviceManager.newSubManager()) {
            if (sumsSharded) {
                zero(liveGradients(scope, trainable.keySet()));
                return;
            }
            zero(gradientSums(scope));
            if (!sums.isEmpty()) {
                zero(liveGradients(scope, trainable.keySet()));
            }
        }
    }

    /**
     * Sets the gradient sums to a mid-step checkpoint's, exactly. Separate sums are copied into; compute gradients
     * are set by backward of sum(p x G), which gives dp = 1 x G bit for bit on gradients empty in a new process.
     */
    public void restoreGradientSums(SafetensorsFile saved) {
        requireWholeSums();
        boolean grad = JniUtils.isGradMode();
        try (NDManager scope = deviceManager.newSubManager()) {
            for (Map.Entry<String, NDArray> e : trainable.entrySet()) {
                String name = e.getKey();
                if (!saved.tensors().containsKey(name)
                        || !java.util.Arrays.equals(saved.entry(name).shape(), e.getValue().getShape().getShape())) {
                    throw new LongctxException(saved.path() + ": no gradient of shape " + e.getValue().getShape()
                            + " for '" + name + "'");
                }
                NDArray values = Tensors.fromSafetensors(scope, saved, name, RowSlices.DEFAULT_BYTES,
                        (a, b, data) -> { });
                if (!sums.isEmpty()) {
                    PrecisionOps.shared().copy(List.of(sums.get(name)), List.of(values));
                    continue;
                }
                JniUtils.setGradMode(true);
                NDArray sum = e.getValue().mul(values).sum();
                sum.attach(scope);
                JniUtils.backward((PtNDArray) sum, (PtNDArray) sum.onesLike(), false, false);
                JniUtils.setGradMode(grad);
            }
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    /** The fp32 values of the trainable tensors only (adapters and what trains beside them), for a LoRA checkpoint. */
    public Map<String, NDArray> trainableCheckpointTensors() {
        requireWholeMasters();
        return masters;
    }

    /**
     * Every tensor of the model for a full checkpoint, fp32 where a master exists (trainable), else the compute
     * tensor (fp32, or bf16 for frozen weights under bf16, which the writer widens).
     */
    public Map<String, NDArray> checkpointTensors() {
        requireWholeMasters();
        Map<String, NDArray> out = new LinkedHashMap<>();
        compute.tensors().forEach((name, tensor) -> out.put(name, masters.getOrDefault(name, tensor)));
        return out;
    }

    /** Live gradient views of the named trainable tensors; a tensor backward never reached reads as zeros. */
    private List<NDArray> liveGradients(NDManager scope, Set<String> names) {
        List<NDArray> grads = new ArrayList<>(names.size());
        for (String name : names) {
            NDArray p = trainable.get(name);
            NDArray grad = p.hasGradient() ? p.getGradient() : PrecisionOps.shared().zerosLike(p);
            grad.attach(scope);
            grads.add(grad);
        }
        return grads;
    }

    /**
     * Whether the step's fp32 gradient sums are kept by a sharded update (each rank its shard, summed after every
     * micro-batch) instead of whole here.
     */
    public boolean sumsSharded() {
        return sumsSharded;
    }

    /** The gradients backward wrote into the trainable tensors (views owned by scope; zeros where it wrote none). */
    public List<NDArray> computeGradients(NDManager scope) {
        return liveGradients(scope, trainable.keySet());
    }

    private void requireWholeSums() {
        if (sumsSharded) {
            throw new IllegalStateException("the gradient sums are sharded: the update keeps them");
        }
    }

    private void requireWholeMasters() {
        if (masterShard != null) {
            throw new IllegalStateException("the masters are sharded: the update gathers them");
        }
    }

    private static void zero(List<NDArray> tensors) {
        if (!tensors.isEmpty()) {
            PrecisionOps.shared().zero(tensors);
        }
    }

    @Override
    public void close() {
        if (hostManager != deviceManager) {
            hostManager.close();
        }
        deviceManager.close();
    }
}
