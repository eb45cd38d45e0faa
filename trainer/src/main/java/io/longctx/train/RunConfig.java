package io.longctx.train;

import io.longctx.recipe.RecipeNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Where and how the run executes and what it writes.
 *
 * @param checkpointLayers activation checkpointing: 0 off, 1 every decoder layer, k every k-th layer
 * @param device cpu or gpu
 * @param attention sdpa (fused) or plain
 * @param outputDir run folder (checkpoints, metrics, resolved recipe)
 * @param checkpointEvery steps between checkpoints (a checkpoint is also written at the end)
 * @param keepLast checkpoints kept; older ones are deleted
 * @param evalEvery steps between evaluations; 0 for none
 * @param evalLengths context lengths for perplexity during training
 * @param evalBatches validation sequences used per evaluation
 */
public record RunConfig(
        int checkpointLayers, Device device, String attention, Path outputDir, int checkpointEvery, int keepLast,
        int evalEvery, List<Integer> evalLengths, int evalBatches) {

    public enum Device {
        CPU, GPU
    }

    public RunConfig {
        evalLengths = List.copyOf(evalLengths);
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

    public static RunConfig parse(RecipeNode root, Path baseDir, Path defaultOutput) {
        int checkpointLayers = parseCheckpointing(root);
        Device device = root.enumValue("device", Device.class, Device.CPU);
        String attention = root.string("attention", "sdpa");
        root.require("attention", attention.equals("sdpa") || attention.equals("plain"),
                "must be sdpa or plain, got '" + attention + "'");
        RecipeNode output = root.get("output");
        String dir = output.string("dir", null);
        int every = output.integer("checkpoint_every", 100);
        int keep = output.integer("keep_last", 3);
        output.require("checkpoint_every", every >= 1, "must be >= 1, got " + every);
        output.require("keep_last", keep >= 1, "must be >= 1, got " + keep);
        RecipeNode eval = root.get("eval");
        int evalEvery = eval.integer("every", 0);
        int batches = eval.integer("batches", 4);
        List<Integer> lengths = new ArrayList<>();
        for (RecipeNode item : eval.get("lengths").elements()) {
            try {
                int length = Integer.parseInt(item.text() == null ? "" : item.text().trim());
                if (length < 2) {
                    item.problem("must be >= 2, got " + length);
                }
                lengths.add(length);
            } catch (NumberFormatException e) {
                item.problem("must be an integer, got '" + item.text() + "'");
            }
        }
        eval.require("every", evalEvery >= 0, "must be >= 0, got " + evalEvery);
        eval.require("batches", batches >= 1, "must be >= 1, got " + batches);
        return new RunConfig(checkpointLayers, device, attention,
                dir == null ? defaultOutput : baseDir.resolve(dir).normalize(), every, keep, evalEvery, lengths,
                batches);
    }
}
