package io.longctx.plan;

import io.longctx.engine.Precision;
import io.longctx.lora.LoraConfig;
import io.longctx.model.ModelConfig;
import io.longctx.precision.Offload;
import io.longctx.train.Recipe;
import java.util.List;

/**
 * What decides a training run's memory: the architecture, one micro-batch's shape, checkpointing, precision, where
 * the optimizer state lives, what trains, and the device.
 *
 * @param trainable parameter-name globs that train in full (ignored under LoRA, where extraTrainable counts)
 * @param gpu whether the device is a CUDA GPU (else host and device are one memory)
 * @param devices data-parallel ranks, one per device
 * @param passkeyLength the longest passkey prompt evaluated during training (its KV cache), 0 for none
 * @param shardOptimizer with several devices, each holds 1/devices of the optimizer moments (optimizer.shard)
 * @param bucketBytes the size of one gradient all-reduce bucket (distributed.bucket_mb)
 * @param keepLast under checkpointing, the last layers that keep their activations (activation_checkpointing.keep_last)
 * @param saveAttention selective checkpointing: each recomputed layer also keeps its attention output and log-sum-exp
 */
public record PlanInput(ModelConfig model, int seqLen, int microBatch, int checkpointLayers, Precision precision,
        Offload offload, LoraConfig lora, List<String> trainable, boolean plainAttention, boolean gpu,
        int devices, int passkeyLength, boolean shardOptimizer, long bucketBytes, int keepLast,
        boolean saveAttention) {

    public PlanInput {
        trainable = List.copyOf(trainable);
    }

    /** One device. */
    public PlanInput(ModelConfig model, int seqLen, int microBatch, int checkpointLayers, Precision precision,
            Offload offload, LoraConfig lora, List<String> trainable, boolean plainAttention, boolean gpu,
            int devices, int passkeyLength) {
        this(model, seqLen, microBatch, checkpointLayers, precision, offload, lora, trainable, plainAttention, gpu,
                devices, passkeyLength, false, io.longctx.distributed.DistributedConfig.DEFAULT.bucketBytes(), 0, false);
    }

    /** The same run on {@code devices} ranks, its optimizer state sharded or replicated. */
    public PlanInput onDevices(int count, boolean shard) {
        return new PlanInput(model, seqLen, microBatch, checkpointLayers, precision, offload, lora, trainable,
                plainAttention, gpu, count, passkeyLength, shard, bucketBytes, keepLast, saveAttention);
    }

    public static PlanInput of(Recipe recipe, int devices) {
        return new PlanInput(recipe.architecture(), recipe.data().packing().seqLen(), recipe.train().microBatch(),
                recipe.run().checkpointLayers(), recipe.run().precision(), recipe.run().offload(), recipe.lora(),
                recipe.train().trainable(), recipe.run().attention().equals("plain"),
                recipe.run().device() == io.longctx.train.RunConfig.Device.GPU, devices,
                recipe.eval().every() > 0 && recipe.eval().passkey() != null
                        ? java.util.Collections.max(recipe.eval().passkey().lengths()) : 0,
                recipe.run().shardOptimizer(), recipe.run().distributed().bucketBytes(), recipe.run().keepLast(),
                recipe.run().saveAttention());
    }

    public PlanInput withLength(int length) {
        return new PlanInput(model, length, microBatch, checkpointLayers, precision, offload, lora, trainable,
                plainAttention, gpu, devices, passkeyLength, shardOptimizer, bucketBytes, keepLast, saveAttention);
    }

    /** The same run keeping the last {@code layers} decoder layers' activations under checkpointing. */
    public PlanInput keepingLast(int layers) {
        return new PlanInput(model, seqLen, microBatch, checkpointLayers, precision, offload, lora, trainable,
                plainAttention, gpu, devices, passkeyLength, shardOptimizer, bucketBytes, layers, saveAttention);
    }

    /** The same run under selective checkpointing (one layer per segment, attention outputs kept). */
    public PlanInput selective() {
        return new PlanInput(model, seqLen, microBatch, 1, precision, offload, lora, trainable, plainAttention, gpu,
                devices, passkeyLength, shardOptimizer, bucketBytes, keepLast, true);
    }
}
