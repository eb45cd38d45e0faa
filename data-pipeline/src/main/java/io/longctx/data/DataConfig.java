package io.longctx.data;

import io.longctx.data.pack.PackingConfig;
import io.longctx.data.source.SourceConfig;
import io.longctx.data.tokenize.TokenizerSpec;
import io.longctx.recipe.RecipeNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The {@code data} section of a recipe: sources, tokenizer, packing, validation share, seed and store folder.
 *
 * @param validationFraction share of documents (by document, never by sequence) held out for validation
 * @param seed decides the validation split; the sampler's shuffle uses the training seed
 */
public record DataConfig(
        List<SourceConfig> sources, TokenizerSpec tokenizer, PackingConfig packing, double validationFraction,
        long seed, Path store) {

    public DataConfig {
        sources = List.copyOf(sources);
    }

    /**
     * @param baseDir folder the recipe's relative paths are resolved against
     * @param modelDir the model directory (for tokenizer: model), or null
     * @param defaultStore store folder when the recipe names none
     */
    public static DataConfig parse(RecipeNode node, Path baseDir, Path modelDir, Path defaultStore) {
        List<SourceConfig> sources = new ArrayList<>();
        RecipeNode list = node.get("sources");
        if (list.isMissing()) {
            list.problem("is required: a list of {type, path, ...}");
        }
        for (RecipeNode source : list.elements()) {
            sources.add(SourceConfig.parse(source, baseDir));
        }
        if (list.isSequence() && sources.isEmpty()) {
            list.problem("must name at least one source");
        }
        TokenizerSpec tokenizer = TokenizerSpec.parse(node.get("tokenizer"), baseDir, modelDir);
        RecipeNode packingNode = node.get("packing");
        if (packingNode.isMissing()) {
            packingNode.problem("is required (at least packing.seq_len)");
        }
        PackingConfig packing = PackingConfig.parse(packingNode);
        double validation = node.number("validation_fraction", 0.02);
        node.require("validation_fraction", validation >= 0 && validation < 1, "must be in [0, 1), got "
                + validation);
        long seed = node.longValue("seed", 1234);
        String store = node.string("store", null);
        return new DataConfig(sources, tokenizer, packing, validation, seed,
                store == null ? defaultStore : baseDir.resolve(store).normalize());
    }

    /** What a store's contents depend on; a store whose manifest records another fingerprint is rebuilt. */
    public Map<String, Object> fingerprint(String tokenizerSha256, TokenizerSpec.SpecialIds ids) {
        Map<String, Object> map = new LinkedHashMap<>();
        List<Map<String, Object>> sourceMaps = new ArrayList<>();
        for (SourceConfig s : sources) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("type", s.type().name().toLowerCase(Locale.ROOT));
            m.put("path", s.path().toAbsolutePath().normalize().toString());
            m.put("glob", s.glob());
            m.put("text_field", s.textField());
            m.put("id_field", s.idField());
            m.put("text_column", s.textColumn());
            m.put("header", s.header());
            m.put("on_error", s.onError().name().toLowerCase(Locale.ROOT));
            sourceMaps.add(m);
        }
        map.put("sources", sourceMaps);
        map.put("tokenizer", tokenizerName());
        map.put("tokenizer_sha256", tokenizerSha256);
        map.put("special_ids", ids.toMap());
        map.put("packing", packing.toMap());
        map.put("validation_fraction", validationFraction);
        map.put("seed", seed);
        return map;
    }

    private String tokenizerName() {
        return tokenizer.isByteLevel() ? "byte" : tokenizer.path().toString();
    }
}
