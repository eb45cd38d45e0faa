package io.longctx.train;

import io.longctx.recipe.RecipeNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@code eval} section: evaluation during training.
 *
 * @param every steps between evaluations; 0 for none
 * @param lengths context lengths for perplexity during training
 * @param batches validation sequences used per evaluation
 * @param passkey passkey retrieval at each evaluation, or null for none
 */
public record EvalConfig(int every, List<Integer> lengths, int batches, Passkey passkey) {

    /**
     * {@code eval.passkey}: the YaRN passkey test (random seeded depths, the same prompts at every evaluation).
     *
     * @param lengths prompt lengths in tokens
     * @param trials keys per length
     * @param task whether prompts open with YaRN's task description (default true)
     */
    public record Passkey(List<Integer> lengths, int trials, boolean task) {
        public Passkey {
            lengths = List.copyOf(lengths);
        }

        Map<String, Object> toMap() {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("lengths", lengths);
            map.put("trials", trials);
            map.put("task", task);
            return map;
        }
    }

    public EvalConfig {
        lengths = List.copyOf(lengths);
    }

    public static EvalConfig parse(RecipeNode eval) {
        int every = eval.integer("every", 0);
        int batches = eval.integer("batches", 4);
        List<Integer> lengths = lengths(eval);
        Passkey passkey = null;
        RecipeNode passkeyNode = eval.get("passkey");
        if (!passkeyNode.isMissing()) {
            List<Integer> passkeyLengths = lengths(passkeyNode);
            int trials = passkeyNode.integer("trials", 10);
            passkeyNode.require("lengths", !passkeyLengths.isEmpty(), "must list at least one prompt length");
            passkeyNode.require("trials", trials >= 1, "must be >= 1, got " + trials);
            passkey = new Passkey(passkeyLengths, trials, passkeyNode.bool("task", true));
        }
        eval.require("every", every >= 0, "must be >= 0, got " + every);
        eval.require("batches", batches >= 1, "must be >= 1, got " + batches);
        return new EvalConfig(every, lengths, batches, passkey);
    }

    /** A node's {@code lengths} list, each an integer >= 2. */
    private static List<Integer> lengths(RecipeNode node) {
        List<Integer> lengths = new ArrayList<>();
        for (RecipeNode item : node.get("lengths").elements()) {
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
        return lengths;
    }

    public Map<String, Object> toMap() {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("every", every);
        map.put("lengths", lengths);
        map.put("batches", batches);
        map.put("passkey", passkey == null ? null : passkey.toMap());
        return map;
    }
}
