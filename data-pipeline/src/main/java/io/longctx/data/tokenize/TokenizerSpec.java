package io.longctx.data.tokenize;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.LongctxException;
import io.longctx.recipe.RecipeNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Which tokenizer to use and how documents are framed: the built-in byte-level one, or an HF tokenizer.json. BOS,
 * EOS and PAD ids come from the recipe when given, else from tokenizer_config.json / config.json beside the
 * tokenizer, else from the byte-level tokenizer's fixed ids.
 *
 * @param path tokenizer.json, or null for the built-in byte-level tokenizer
 */
public record TokenizerSpec(Path path, Integer bosId, Integer eosId, Integer padId, boolean addBos, boolean addEos) {

    public static TokenizerSpec byteLevel() {
        return new TokenizerSpec(null, null, null, null, true, true);
    }

    public boolean isByteLevel() {
        return path == null;
    }

    /**
     * Reads {@code data.tokenizer}: "byte", "model" (the model directory's tokenizer.json), a path, or a mapping
     * {path, bos_id, eos_id, pad_id, add_bos, add_eos} where path may also be byte or model.
     */
    public static TokenizerSpec parse(RecipeNode node, Path baseDir, Path modelDir) {
        if (node.isMissing()) {
            return modelDir != null && TextTokenizer.exists(modelDir)
                    ? new TokenizerSpec(modelDir.resolve(TextTokenizer.FILE_NAME), null, null, null, true, true)
                    : byteLevel();
        }
        if (node.isScalar()) {
            String value = node.asString();
            return value == null ? byteLevel()
                    : new TokenizerSpec(resolve(node, value, baseDir, modelDir), null, null, null, true, true);
        }
        String where = node.string("path", "byte");
        return new TokenizerSpec(resolve(node.get("path"), where, baseDir, modelDir), node.optionalInteger("bos_id"),
                node.optionalInteger("eos_id"), node.optionalInteger("pad_id"), node.bool("add_bos", true),
                node.bool("add_eos", true));
    }

    /** The recipe form, as a mapping that parses back to an equal spec. */
    public Map<String, Object> toMap() {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("path", isByteLevel() ? "byte" : path.toString());
        map.putAll(idsMap(bosId, eosId, padId, addBos, addEos));
        return map;
    }

    /** The special ids under the recipe's key names, for the spec (as asked) and for the ids in force alike. */
    private static Map<String, Object> idsMap(Integer bos, Integer eos, Integer pad, boolean addBos, boolean addEos) {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("bos_id", bos);
        map.put("eos_id", eos);
        map.put("pad_id", pad);
        map.put("add_bos", addBos);
        map.put("add_eos", addEos);
        return map;
    }

    private static Path resolve(RecipeNode node, String value, Path baseDir, Path modelDir) {
        if (value == null || value.equals("byte")) {
            return null;
        }
        if (value.equals("model")) {
            if (modelDir == null) {
                node.problem("'model' needs model.path to name an HF model directory");
                return null;
            }
            if (!TextTokenizer.exists(modelDir)) {
                node.problem("'model' needs " + modelDir.resolve(TextTokenizer.FILE_NAME) + ", which is missing");
            }
            return modelDir.resolve(TextTokenizer.FILE_NAME);
        }
        Path path = baseDir.resolve(value).normalize();
        Path file = Files.isDirectory(path) ? path.resolve(TextTokenizer.FILE_NAME) : path;
        if (!Files.isRegularFile(file)) {
            node.problem("no tokenizer at " + file + " (give byte, model, a tokenizer.json or its folder)");
        }
        return file;
    }

    /** The ids in force for a loaded tokenizer. */
    public record SpecialIds(Integer bos, Integer eos, int pad, boolean addBos, boolean addEos) {
        public Map<String, Object> toMap() {
            return idsMap(bos, eos, pad, addBos, addEos);
        }
    }

    public SpecialIds resolve(TextTokenizer tokenizer) {
        if (isByteLevel()) {
            return new SpecialIds(orElse(bosId, ByteLevelTokenizer.BOS_ID), orElse(eosId, ByteLevelTokenizer.EOS_ID),
                    orElse(padId, ByteLevelTokenizer.PAD_ID), addBos, addEos);
        }
        Path dir = path.toAbsolutePath().getParent();
        JsonNode tokConfig = readJson(dir.resolve("tokenizer_config.json"));
        JsonNode modelConfig = readJson(dir.resolve("config.json"));
        Integer bos = orElse(bosId, orElse(tokenId(tokenizer, tokConfig.path("bos_token")),
                intOrNull(modelConfig.path("bos_token_id"))));
        Integer eos = orElse(eosId, orElse(tokenId(tokenizer, tokConfig.path("eos_token")),
                intOrNull(modelConfig.path("eos_token_id"))));
        Integer pad = orElse(padId, orElse(tokenId(tokenizer, tokConfig.path("pad_token")),
                intOrNull(modelConfig.path("pad_token_id"))));
        int vocab = tokenizer.vocabSize();
        for (Integer id : new Integer[] {bos, eos, pad}) {
            if (id != null && (id < 0 || id >= vocab)) {
                throw new LongctxException(path + ": special token id " + id + " is outside the vocabulary of "
                        + vocab);
            }
        }
        return new SpecialIds(bos, eos, pad != null ? pad : eos != null ? eos : 0, addBos && bos != null,
                addEos && eos != null);
    }

    private static Integer orElse(Integer value, Integer fallback) {
        return value != null ? value : fallback;
    }

    private static Integer intOrNull(JsonNode node) {
        if (node.isArray() && !node.isEmpty()) {
            node = node.get(0);
        }
        return node.isInt() ? node.asInt() : null;
    }

    private static Integer tokenId(TextTokenizer tokenizer, JsonNode token) {
        String text = token.isTextual() ? token.asText() : token.path("content").isTextual()
                ? token.path("content").asText() : null;
        return text == null ? null : tokenizer.tokenId(text);
    }

    private static JsonNode readJson(Path file) {
        if (!Files.isRegularFile(file)) {
            return new ObjectMapper().createObjectNode();
        }
        try {
            return new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new LongctxException(file + ": not valid JSON (" + e.getMessage() + ")");
        }
    }
}
