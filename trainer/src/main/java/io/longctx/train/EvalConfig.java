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
 */
public record EvalConfig(int every, List<Integer> lengths, int batches) {

    public EvalConfig {
        lengths = List.copyOf(lengths);
    }

    public static EvalConfig parse(RecipeNode eval) {
        int every = eval.integer("every", 0);
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
        eval.require("every", every >= 0, "must be >= 0, got " + every);
        eval.require("batches", batches >= 1, "must be >= 1, got " + batches);
        return new EvalConfig(every, lengths, batches);
    }

    public Map<String, Object> toMap() {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("every", every);
        map.put("lengths", lengths);
        map.put("batches", batches);
        return map;
    }
}
