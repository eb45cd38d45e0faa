package io.longctx.train;

import io.longctx.engine.Precision;
import io.longctx.precision.Offload;
import io.longctx.recipe.RecipeNode;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * How the run executes: the recipe's top-level {@code activation_checkpointing}, {@code device}, {@code attention},
 * {@code precision} and {@code optimizer} keys.
 *
 * @param checkpointLayers activation checkpointing: 0 off, 1 every decoder layer, k every k-th layer
 * @param keepLast under checkpointing, how many of the last decoder layers keep their activations instead of being
 *     recomputed (faster, more memory); 0 recomputes them all
 * @param device cpu or gpu
 * @param attention sdpa (fused) or plain
 * @param precision what forward and backward compute in (default bf16 on gpu, fp32 on cpu, where bf16 matrix
 *     products are many times slower)
 * @param offload where the fp32 master weights and optimizer moments live
 * @param shardOptimizer with several ranks, each owns 1/N of the optimizer moments (gradients reduce-scattered,
 *     updated weights all-gathered) instead of all of them
 * @param distributed how ranks communicate
 */
public record RunConfig(int checkpointLayers, int keepLast, Device device, String attention, Precision precision,
        Offload offload, boolean shardOptimizer, io.longctx.distributed.DistributedConfig distributed) {

    public enum Device {
        CPU, GPU
    }

    /** {@code activation_checkpointing}: {layers per recomputed segment (0 off), last layers kept}. */
    static int[] parseCheckpointing(RecipeNode root) {
        RecipeNode node = root.get("activation_checkpointing");
        if (node.isMissing()) {
            return new int[] {0, 0};
        }
        if (node.isMapping()) {
            int every = node.integer("every", 1);
            int keep = node.integer("keep_last", 0);
            node.require("every", every >= 1, "must be >= 1, got " + every);
            node.require("keep_last", keep >= 0, "must be >= 0, got " + keep);
            return new int[] {every, keep};
        }
        String text = node.text();
        return switch (text == null ? "" : text.trim()) {
            case "off", "false", "none" -> new int[] {0, 0};
            case "every_layer", "on", "true", "all" -> new int[] {1, 0};
            default -> {
                node.problem("must be off, every_layer, or {every: k, keep_last: m}; got '" + text + "'");
                yield new int[] {0, 0};
            }
        };
    }

    public static RunConfig parse(RecipeNode root) {
        int[] checkpointing = parseCheckpointing(root);
        int checkpointLayers = checkpointing[0];
        int keepLast = checkpointing[1];
        Device device = root.enumValue("device", Device.class, Device.CPU);
        String attention = root.string("attention", "sdpa");
        root.require("attention", attention.equals("sdpa") || attention.equals("plain"),
                "must be sdpa or plain, got '" + attention + "'");
        Precision precision = root.enumValue("precision", Precision.class,
                device == Device.GPU ? Precision.BF16 : Precision.FP32);
        root.require("attention", precision != Precision.BF16 || !attention.equals("plain"),
                "plain attention runs in fp32 only; use attention: sdpa with precision: bf16");
        RecipeNode optimizer = root.get("optimizer");
        Offload offload = optimizer.isMissing() ? Offload.NONE
                : optimizer.enumValue("offload", Offload.class, Offload.NONE);
        boolean shard = !optimizer.isMissing() && optimizer.bool("shard", false);
        return new RunConfig(checkpointLayers, keepLast, device, attention, precision, offload, shard,
                io.longctx.distributed.DistributedConfig.parse(root.get("distributed")));
    }

    /** The recipe's top-level keys this record reads, as they would be written. */
    public Map<String, Object> toMap() {
        Map<String, Object> map = new LinkedHashMap<>();
        Map<String, Object> policy = new LinkedHashMap<>();
        policy.put("every", checkpointLayers);
        policy.put("keep_last", keepLast);
        map.put("activation_checkpointing", checkpointLayers == 0 ? "off"
                : checkpointLayers == 1 && keepLast == 0 ? "every_layer" : policy);
        map.put("device", device.name().toLowerCase(Locale.ROOT));
        map.put("attention", attention);
        map.put("precision", precision.recipeName());
        Map<String, Object> optimizer = new LinkedHashMap<>();
        optimizer.put("offload", offload.recipeName());
        optimizer.put("shard", shardOptimizer);
        map.put("optimizer", optimizer);
        map.put("distributed", distributed.toMap());
        return map;
    }
}
