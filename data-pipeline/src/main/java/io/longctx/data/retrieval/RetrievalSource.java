package io.longctx.data.retrieval;

import io.longctx.recipe.RecipeNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A {@code data.sources} entry of type retrieval: synthetic passkey documents generated from a seed, the training
 * data that teaches the behaviour the passkey test measures. Each document is the passkey prompt (optionally
 * without the task description) followed by its answer, at a length drawn uniformly from the range, with the key line
 * at a uniformly random depth in the filler.
 *
 * @param fraction share of the training tokens these documents make up, the other sources being the rest
 * @param minTokens shortest document text, in tokens
 * @param maxTokens longest document text, in tokens
 * @param filler fixed: YaRN's repeated sentences (what the passkey test uses); sources: passages of the other
 *     sources' training documents
 * @param task whether each document starts with the task description line, as the passkey prompt does
 * @param seed decides every length, depth, key and filler passage
 */
public record RetrievalSource(double fraction, int minTokens, int maxTokens, Filler filler, boolean task, long seed) {

    public enum Filler {
        FIXED, SOURCES
    }

    /** Reads the keys after {@code type: retrieval}. */
    public static RetrievalSource parse(RecipeNode node) {
        double fraction = node.number("fraction", Double.NaN);
        if (!node.has("fraction")) {
            node.get("fraction").problem("is required: the share of training tokens, in (0, 1)");
        } else {
            node.require("fraction", fraction > 0 && fraction < 1, "must be in (0, 1), got " + fraction);
        }
        double[] lengths = node.numbers("lengths");
        int min = 0;
        int max = 0;
        if (lengths == null) {
            node.get("lengths").problem("is required: [min_tokens, max_tokens] of each document");
        } else if (lengths.length != 2 || lengths[0] != Math.rint(lengths[0]) || lengths[1] != Math.rint(lengths[1])
                || lengths[0] < 1 || lengths[1] < lengths[0] || lengths[1] > 1 << 24) {
            node.get("lengths").problem("must be [min_tokens, max_tokens], whole numbers with 1 <= min <= max, got "
                    + java.util.Arrays.toString(lengths));
        } else {
            min = (int) lengths[0];
            max = (int) lengths[1];
        }
        Filler filler = node.enumValue("filler", Filler.class, Filler.FIXED);
        boolean task = node.bool("task", true);
        long seed = node.longValue("seed", 1234);
        return new RetrievalSource(fraction, min, max, filler, task, seed);
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", "retrieval");
        m.put("fraction", fraction);
        m.put("lengths", List.of(minTokens, maxTokens));
        m.put("filler", filler.name().toLowerCase(Locale.ROOT));
        m.put("task", task);
        m.put("seed", seed);
        return m;
    }

    public String describe() {
        return String.format(Locale.ROOT, "retrieval, %.0f%% of training tokens, %d-%d tokens, %s filler", 100 * fraction,
                minTokens, maxTokens, filler.name().toLowerCase(Locale.ROOT));
    }
}
