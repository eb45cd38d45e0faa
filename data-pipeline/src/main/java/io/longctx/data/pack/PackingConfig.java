package io.longctx.data.pack;

import io.longctx.recipe.RecipeNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How documents become sequences.
 *
 * @param mode concat (joined and cut into exact L-token pieces, the YaRN paper's way) or bin (best-fit packing of
 *     short documents with padding; long ones cut into L-token windows)
 * @param seqLen L, tokens per sequence
 * @param documentAware keep document boundaries so the trainer resets position ids and blocks cross-document
 *     attention
 * @param minDocTokens documents with fewer tokens are skipped (only documents that need long context)
 * @param overlap bin mode: tokens shared by consecutive windows of a long document
 * @param separator extra ids appended after every document (after EOS)
 * @param binBuffer bin mode: pieces collected before best-fit-decreasing packs them (bounds memory)
 */
public record PackingConfig(
        Mode mode, int seqLen, boolean documentAware, int minDocTokens, int overlap, int[] separator, int binBuffer) {

    public enum Mode {
        CONCAT, BIN
    }

    public PackingConfig {
        separator = separator.clone();
    }

    @Override
    public int[] separator() {
        return separator.clone();
    }

    public static PackingConfig concat(int seqLen) {
        return new PackingConfig(Mode.CONCAT, seqLen, false, 0, 0, new int[0], 4096);
    }

    public static PackingConfig parse(RecipeNode node) {
        Mode mode = node.enumValue("mode", Mode.class, Mode.CONCAT);
        int seqLen = node.requiredInteger("seq_len");
        boolean aware = node.bool("document_aware", false);
        int minDoc = node.integer("min_doc_tokens", 0);
        int overlap = node.integer("overlap", 0);
        int buffer = node.integer("bin_buffer", 4096);
        List<Integer> separator = new ArrayList<>();
        for (RecipeNode item : node.get("separator").elements()) {
            String text = item.text();
            try {
                separator.add(Integer.parseInt(text == null ? "" : text.trim()));
            } catch (NumberFormatException e) {
                item.problem("must be a token id, got '" + text + "'");
            }
        }
        node.require("seq_len", seqLen >= 2, "must be at least 2, got " + seqLen);
        node.require("min_doc_tokens", minDoc >= 0, "must be >= 0, got " + minDoc);
        node.require("overlap", overlap >= 0 && overlap < Math.max(1, seqLen), "must be in [0, seq_len), got "
                + overlap);
        node.require("overlap", overlap == 0 || mode == Mode.BIN, "only applies to mode: bin");
        node.require("bin_buffer", buffer >= 1, "must be >= 1, got " + buffer);
        return new PackingConfig(mode, seqLen, aware, minDoc, overlap,
                separator.stream().mapToInt(Integer::intValue).toArray(), buffer);
    }

    public Map<String, Object> toMap() {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("mode", mode.name().toLowerCase(java.util.Locale.ROOT));
        map.put("seq_len", seqLen);
        map.put("document_aware", documentAware);
        map.put("min_doc_tokens", minDocTokens);
        map.put("overlap", overlap);
        map.put("separator", java.util.Arrays.stream(separator).boxed().toList());
        map.put("bin_buffer", binBuffer);
        return map;
    }
}
