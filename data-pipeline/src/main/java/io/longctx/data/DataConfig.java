package io.longctx.data;

import io.longctx.Hashing;
import io.longctx.LongctxException;
import io.longctx.data.pack.PackingConfig;
import io.longctx.data.source.DocumentReader;
import io.longctx.data.source.SourceStats;
import io.longctx.data.source.SourceConfig;
import io.longctx.data.tokenize.TokenizerSpec;
import io.longctx.recipe.RecipeNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
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
        double generated = sources.stream().filter(s -> !s.readsFiles()).mapToDouble(s -> s.retrieval().fraction())
                .sum();
        if (!sources.isEmpty() && sources.stream().noneMatch(SourceConfig::readsFiles)) {
            list.problem("needs at least one source of files beside the retrieval sources (their fraction is a "
                    + "share of the training tokens the others make)");
        } else if (generated >= 1) {
            list.problem("retrieval fractions add up to " + generated + "; they must leave a share for the other "
                    + "sources (sum < 1)");
        }
        TokenizerSpec tokenizer = TokenizerSpec.parse(node.get("tokenizer"), baseDir, modelDir);
        RecipeNode packingNode = node.get("packing");
        if (packingNode.isMissing()) {
            packingNode.problem("is required (at least packing.seq_len)");
        }
        PackingConfig packing = PackingConfig.parse(packingNode);
        for (int i = 0; i < sources.size(); i++) {
            SourceConfig s = sources.get(i);
            if (!s.readsFiles() && s.retrieval().minTokens() > 0
                    && s.retrieval().minTokens() < packing.minDocTokens()) {
                list.elements().get(i).require("lengths", false, "the shortest document (" + s.retrieval()
                        .minTokens() + " tokens) is below packing.min_doc_tokens (" + packing.minDocTokens() + ")");
            }
        }
        double validation = node.number("validation_fraction", 0.02);
        node.require("validation_fraction", validation >= 0 && validation < 1, "must be in [0, 1), got "
                + validation);
        long seed = node.longValue("seed", 1234);
        String store = node.string("store", null);
        return new DataConfig(sources, tokenizer, packing, validation, seed,
                store == null ? defaultStore : baseDir.resolve(store).normalize());
    }

    /** The recipe form of the section, every default filled in; parsing it back gives an equal record. */
    public Map<String, Object> toMap() {
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("sources", sources.stream().map(SourceConfig::toMap).toList());
        data.put("tokenizer", tokenizer.toMap());
        data.put("packing", packing.toMap());
        data.put("validation_fraction", validationFraction);
        data.put("seed", seed);
        data.put("store", store.toString());
        return data;
    }

    /**
     * What a store's contents depend on: this section less the store's own folder, the tokenizer's hash and ids,
     * and each source's files with their sizes and modification times, so changed data rebuilds the store.
     */
    public Map<String, Object> fingerprint(String tokenizerSha256, TokenizerSpec.SpecialIds ids) {
        Map<String, Object> map = toMap();
        map.remove("store");
        List<Map<String, Object>> sourceMaps = new ArrayList<>();
        for (SourceConfig s : sources) {
            Map<String, Object> m = s.toMap();
            if (!s.readsFiles()) {
                sourceMaps.add(m);
                continue;
            }
            m.put("path", s.path().toAbsolutePath().normalize().toString());
            m.put("files", filesDigest(s));
            sourceMaps.add(m);
        }
        map.put("sources", sourceMaps);
        map.put("tokenizer_sha256", tokenizerSha256);
        map.put("special_ids", ids.toMap());
        return map;
    }

    /** The count of a source's files and a hash of their names, sizes and modification times. */
    private static String filesDigest(SourceConfig source) {
        List<Path> files = new DocumentReader(source, new SourceStats()).files();
        StringBuilder listing = new StringBuilder();
        for (Path file : files) {
            try {
                listing.append(file.toAbsolutePath().normalize()).append('\t').append(Files.size(file)).append('\t')
                        .append(Files.getLastModifiedTime(file).toMillis()).append('\n');
            } catch (IOException e) {
                throw new LongctxException(file + ": cannot read its size (" + e.getMessage() + ")");
            }
        }
        return files.size() + " files, " + Hashing.sha256(listing.toString().getBytes(StandardCharsets.UTF_8));
    }
}
