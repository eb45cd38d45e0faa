package io.longctx.train;

import io.longctx.recipe.RecipeNode;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * How the run executes: the recipe's top-level {@code activation_checkpointing}, {@code device} and
 * {@code attention} keys.
 *
 * @param checkpointLayers activation checkpointing: 0 off, 1 every decoder layer, k every k-th layer
 * @param device cpu or gpu
 * @param attention sdpa (fused) or plain
 */
public record RunConfig(int checkpointLayers, Device device, String attention) {

    public enum Device {
        CPU, GPU
    }

    static int parseCheckpointing(RecipeNode root) {
        RecipeNode node = root.get("activation_checkpointing");
        if (node.isMissing()) {
            return 0;
        }
        if (node.isMapping()) {
            int every = node.integer("every", 1);
            node.require("every", every >= 1, "must be >= 1, got " + every);
            return every;
        }
        String text = node.text();
        return switch (text == null ? "" : text.trim()) {
            case "off", "false", "none" -> 0;
            case "every_layer", "on", "true", "all" -> 1;
            default -> {
                node.problem("must be off, every_layer, or {every: k}; got '" + text + "'");
                yield 0;
            }
        };
    }

    public static RunConfig parse(RecipeNode root) {
        int checkpointLayers = parseCheckpointing(root);
        Device device = root.enumValue("device", Device.class, Device.CPU);
        String attention = root.string("attention", "sdpa");
        root.require("attention", attention.equals("sdpa") || attention.equals("plain"),
                "must be sdpa or plain, got '" + attention + "'");
        return new RunConfig(checkpointLayers, device, attention);
    }

    /** The recipe's top-level keys this record reads, as they would be written. */
    public Map<String, Object> toMap() {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("activation_checkpointing", checkpointLayers == 0 ? "off"
                : checkpointLayers == 1 ? "every_layer" : Map.of("every", checkpointLayers));
        map.put("device", device.name().toLowerCase(Locale.ROOT));
        map.put("attention", attention);
        return map;
    }
}
