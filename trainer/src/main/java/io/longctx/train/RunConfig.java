package io.longctx.train;

import io.longctx.engine.Precision;
import io.longctx.precision.Offload;
import io.longctx.recipe.RecipeNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * How the run executes: the recipe's top-level {@code activation_checkpointing}, {@code device}, {@code attention},
 * {@code precision} and {@code optimizer} keys.
 *
 * @param checkpointLayers activation checkpointing: 0 off, 1 every decoder layer, k every k-th layer
 * @param keepLast under checkpointing, how many of the last decoder layers keep their activations instead of being
 *     recomputed (faster, more memory); 0 recomputes them all
 * @param saveAttention selective checkpointing: each recomputed layer keeps its attention output and log-sum-exp,
 *     so backward recomputes everything in the layer but the attention kernel
 * @param device cpu or gpu
 * @param attention sdpa (fused) or plain
 * @param precision what forward and backward compute in (default bf16 on gpu, fp32 on cpu, where bf16 matrix
 *     products are many times slower)
 * @param offload where the fp32 master weights and optimizer moments live
 * @param shardOptimizer with several ranks, each owns 1/N of the optimizer moments (gradients reduce-scattered,
 *     updated weights all-gathered) instead of all of them
 * @param distributed how ranks communicate
 */
public record RunConfig(int checkpointLayers, int keepLast, boolean saveAttention, Device device, String attention, Precision precision,
        Offload offload, boolean shardOptimizer, io.longctx.distributed.DistributedConfig distributed) {

    public enum Device {
        CPU, GPU
    }

    /** What selective checkpointing can keep per layer. */
    static final List<String> SAVEABLE = List.of("attention");

    /**
     * {@code activation_checkpointing}: off, every_layer, selective, or {policy: every_layer | selective, every: k,
     * keep_last: m, save: [attention]}; returns {layers per recomputed segment (0 off), last layers kept, 1 when
     * the attention output is saved}.
     */
    static int[] parseCheckpointing(RecipeNode root) {
        RecipeNode node = root.get("activation_checkpointing");
        if (node.isMissing()) {
            return new int[] {0, 0, 0};
        }
        if (node.isMapping()) {
            String policy = node.string("policy", "every_layer");
            int every = node.integer("every", 1);
            int keep = node.integer("keep_last", 0);
            node.require("policy", policy.equals("every_layer") || policy.equals("selective"),
                    "must be every_layer or selective, got '" + policy + "'");
            node.require("every", every >= 1, "must be >= 1, got " + every);
            node.require("keep_last", keep >= 0, "must be >= 0, got " + keep);
            boolean selective = policy.equals("selective");
            RecipeNode save = node.get("save");
            if (!save.isMissing()) {
                List<String> names = save.isSequence()
                        ? save.elements().stream().map(RecipeNode::asString).toList() : List.of();
                node.require("save", selective, "names what selective checkpointing keeps; set policy: selective");
                node.require("save", save.isSequence() && !names.isEmpty() && SAVEABLE.containsAll(names),
                        "must list what each layer keeps, from " + SAVEABLE + "; got " + save.plainValue());
            }
            node.require("every", !selective || every == 1,
                    "selective checkpointing recomputes one layer at a time; drop every or set it to 1");
            return new int[] {every, keep, selective ? 1 : 0};
        }
        String text = node.text();
        return switch (text == null ? "" : text.trim()) {
            case "off", "false", "none" -> new int[] {0, 0, 0};
            case "every_layer", "on", "true", "all" -> new int[] {1, 0, 0};
            case "selective" -> new int[] {1, 0, 1};
            default -> {
                node.problem("must be off, every_layer, selective, or {policy: every_layer | selective, every: k, "
                        + "keep_last: m, save: [attention]}; got '" + text + "'");
                yield new int[] {0, 0, 0};
            }
        };
    }

    public static RunConfig parse(RecipeNode root) {
        int[] checkpointing = parseCheckpointing(root);
        int checkpointLayers = checkpointing[0];
        int keepLast = checkpointing[1];
        boolean saveAttention = checkpointing[2] == 1;
        Device device = root.enumValue("device", Device.class, Device.CPU);
        String attention = root.string("attention", "sdpa");
        root.require("attention", attention.equals("sdpa") || attention.equals("plain"),
                "must be sdpa or plain, got '" + attention + "'");
        if (saveAttention) {
            root.require("activation_checkpointing", attention.equals("sdpa"),
                    "selective keeps the fused attention's output and log-sum-exp; it needs attention: sdpa");
            root.require("activation_checkpointing", device == Device.CPU, "selective runs on the CPU kernel only "
                    + "(CUDA's fused backward takes state DJL cannot carry); on gpu use every_layer with keep_last");
        }
        Precision precision = root.enumValue("precision", Precision.class,
                device == Device.GPU ? Precision.BF16 : Precision.FP32);
        root.require("attention", precision != Precision.BF16 || !attention.equals("plain"),
                "plain attention runs in fp32 only; use attention: sdpa with precision: bf16");
        RecipeNode optimizer = root.get("optimizer");
        Offload offload = optimizer.isMissing() ? Offload.NONE
                : optimizer.enumValue("offload", Offload.class, Offload.NONE);
        boolean shard = !optimizer.isMissing() && optimizer.bool("shard", false);
        return new RunConfig(checkpointLayers, keepLast, saveAttention, device, attention, precision, offload, shard,
                io.longctx.distributed.DistributedConfig.parse(root.get("distributed")));
    }

    /** Activation checkpointing in words, for logs and plans: off, every k layer(s), or selective. */
    public String checkpointingLabel() {
        if (checkpointLayers == 0) {
            return "off";
        }
        String policy = saveAttention ? "selective (attention output kept)" : "every " + checkpointLayers
                + " layer(s)";
        return keepLast == 0 ? policy : policy + ", last " + keepLast + " kept";
    }

    /** The recipe's top-level keys this record reads, as they would be written. */
    public Map<String, Object> toMap() {
        Map<String, Object> map = new LinkedHashMap<>();
        Map<String, Object> policy = new LinkedHashMap<>();
        if (saveAttention) {
            policy.put("policy", "selective");
            policy.put("save", SAVEABLE);
        } else {
            policy.put("every", checkpointLayers);
        }
        policy.put("keep_last", keepLast);
        map.put("activation_checkpointing", checkpointLayers == 0 ? "off"
                : keepLast == 0 && !saveAttention && checkpointLayers == 1 ? "every_layer"
                : keepLast == 0 && saveAttention ? "selective" : policy);
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
