package io.longctx.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.LongctxException;
import io.longctx.data.tokenize.ByteLevelTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The tokenizer metadata llama.cpp reads ({@code tokenizer.ggml.*}), from an HF tokenizer.json: SentencePiece-style
 * vocabularies (BPE with byte fallback: Llama 2, Mistral) as llama.cpp's {@code llama} model, byte-level BPE
 * (Llama 3, Qwen2, GPT-2) as {@code gpt2} with its merges and pre-tokenizer, and longctx's byte tokenizer as a
 * {@code llama} vocabulary of its three specials and the 256 {@code <0xNN>} byte tokens.
 *
 * @param model "llama" or "gpt2"
 * @param types llama.cpp token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
 * @param merges BPE merges "left right" (gpt2 only), else null
 * @param pre llama.cpp's pre-tokenizer name (gpt2 only), else null
 * @param bosId BOS id or null; likewise eosId, padId, unkId
 * @param addSpacePrefix SentencePiece's dummy "▁" before the text (llama model only)
 */
public record GgufVocabulary(String model, List<String> tokens, float[] scores, int[] types, List<String> merges,
        String pre, Integer bosId, Integer eosId, Integer padId, Integer unkId, boolean addBos, boolean addEos,
        boolean addSpacePrefix) {

    static final int NORMAL = 1;
    static final int UNKNOWN = 2;
    static final int CONTROL = 3;
    static final int USER_DEFINED = 4;
    static final int UNUSED = 5;
    static final int BYTE = 6;

    /** Pre-tokenizer regexes (as tokenizer.json's Split carries them) and llama.cpp's names for them. */
    private static final Map<String, String> KNOWN_SPLITS = Map.of(
            "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                    + "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", "llama-bpe",
            "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                    + "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", "qwen2");

    public GgufVocabulary {
        tokens = List.copyOf(tokens);
        scores = scores.clone();
        types = types.clone();
        merges = merges == null ? null : List.copyOf(merges);
    }

    /**
     * longctx's byte tokenizer: 0 pad, 1 BOS, 2 EOS, 3 + b the byte b, as a byte-level BPE vocabulary without merges
     * (its own tokenizer.json form), so llama.cpp turns text into exactly the ids training saw.
     */
    public static GgufVocabulary byteLevel() {
        List<String> tokens = new ArrayList<>(List.of("<pad>", "<s>", "</s>"));
        int[] types = new int[ByteLevelTokenizer.VOCAB_SIZE];
        Arrays.fill(types, 0, ByteLevelTokenizer.BYTE_OFFSET, CONTROL);
        int[] printable = ByteLevelTokenizer.byteToCodePoint();
        for (int b = 0; b < 256; b++) {
            tokens.add(new String(Character.toChars(printable[b])));
            types[ByteLevelTokenizer.BYTE_OFFSET + b] = NORMAL;
        }
        return new GgufVocabulary("gpt2", tokens, new float[tokens.size()], types, List.of(), "default",
                ByteLevelTokenizer.BOS_ID, ByteLevelTokenizer.EOS_ID, ByteLevelTokenizer.PAD_ID, null, true, false,
                false);
    }

    /**
     * Reads {@code tokenizer.json} (and tokenizer_config.json beside it for add_bos/add_eos), padded with unused
     * tokens up to the model's vocabulary size.
     */
    public static GgufVocabulary fromTokenizerJson(Path file, int vocabSize, Integer bosId, Integer eosId) {
        ObjectMapper mapper = new ObjectMapper();
        JsonNode root;
        try {
            root = mapper.readTree(file.toFile());
            if (root.equals(mapper.readTree(ByteLevelTokenizer.json()))) {
                return byteLevel().paddedTo(vocabSize, file);
            }
        } catch (IOException e) {
            throw new LongctxException(file + ": unreadable (" + e.getMessage() + ")");
        }
        JsonNode model = root.path("model");
        if (!model.path("type").asText("").equals("BPE") || !model.path("vocab").isObject()) {
            throw new LongctxException(file + ": model.type " + model.path("type").asText("(missing)") + " has no "
                    + "llama.cpp vocabulary longctx can write (BPE with byte fallback, or byte-level BPE)");
        }
        boolean byteFallback = model.path("byte_fallback").asBoolean(false);
        boolean byteLevelBpe = mentionsType(root.path("pre_tokenizer"), "ByteLevel");
        if (!byteFallback && !byteLevelBpe) {
            throw new LongctxException(file + ": a BPE vocabulary with neither byte_fallback nor a ByteLevel "
                    + "pre-tokenizer; llama.cpp has no tokenizer for it");
        }
        String[] byId = new String[Math.max(vocabSize, model.path("vocab").size())];
        for (Iterator<Map.Entry<String, JsonNode>> it = model.path("vocab").fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            put(byId, e.getValue().asInt(-1), e.getKey(), file);
        }
        Set<Integer> special = new HashSet<>();
        Set<Integer> added = new HashSet<>();
        for (JsonNode token : root.path("added_tokens")) {
            int id = token.path("id").asInt(-1);
            put(byId, id, token.path("content").asText(), file);
            added.add(id);
            if (token.path("special").asBoolean(false)) {
                special.add(id);
            }
        }
        if (byId.length > vocabSize) {
            throw new LongctxException(file + ": " + byId.length + " tokens, more than the model's vocab_size "
                    + vocabSize);
        }
        String unk = model.path("unk_token").isTextual() ? model.path("unk_token").asText() : null;
        List<String> tokens = new ArrayList<>();
        float[] scores = new float[vocabSize];
        int[] types = new int[vocabSize];
        Integer unkId = null;
        for (int id = 0; id < vocabSize; id++) {
            String token = byId[id];
            if (token == null) {
                tokens.add("[PAD" + id + "]");
                types[id] = UNUSED;
                continue;
            }
            tokens.add(token);
            if (token.equals(unk)) {
                types[id] = UNKNOWN;
                unkId = id;
            } else if (special.contains(id)) {
                types[id] = CONTROL;
            } else if (added.contains(id)) {
                types[id] = USER_DEFINED;
            } else if (byteFallback && token.matches("<0x[0-9A-Fa-f]{2}>")) {
                types[id] = BYTE;
            } else {
                types[id] = NORMAL;
                // SentencePiece's BPE scores follow the piece order, which llama.cpp merges by
                scores[id] = byteFallback ? -id : 0;
            }
        }
        JsonNode config = tokenizerConfig(file.resolveSibling("tokenizer_config.json"), mapper);
        boolean addBos = config.path("add_bos_token").asBoolean(byteFallback && bosId != null);
        boolean addEos = config.path("add_eos_token").asBoolean(false);
        Integer padId = idOf(config.path("pad_token"), tokens);
        if (byteFallback) {
            return new GgufVocabulary("llama", tokens, scores, types, null, null, bosId, eosId, padId, unkId, addBos,
                    addEos, prependsSpace(root));
        }
        List<String> merges = new ArrayList<>();
        for (JsonNode merge : model.path("merges")) {
            merges.add(merge.isArray() ? merge.get(0).asText() + " " + merge.get(1).asText() : merge.asText());
        }
        return new GgufVocabulary("gpt2", tokens, scores, types, merges, preTokenizer(root, merges, file), bosId,
                eosId, padId, unkId, addBos, addEos, false);
    }

    /** SentencePiece's dummy prefix: a Prepend("▁") normalizer, or a Metaspace pre-tokenizer that prepends. */
    private static boolean prependsSpace(JsonNode root) {
        if (root.path("normalizer").toString().contains("\"Prepend\"")) {
            return true;
        }
        JsonNode pre = root.path("pre_tokenizer");
        return mentionsType(pre, "Metaspace") && !pre.toString().contains("\"prepend_scheme\":\"never\"")
                && !pre.toString().contains("\"add_prefix_space\":false");
    }

    private GgufVocabulary paddedTo(int vocabSize, Path file) {
        if (vocabSize < tokens.size()) {
            throw new LongctxException(file + ": " + tokens.size() + " tokens, more than the model's vocab_size "
                    + vocabSize);
        }
        List<String> padded = new ArrayList<>(tokens);
        int[] paddedTypes = Arrays.copyOf(types, vocabSize);
        for (int id = tokens.size(); id < vocabSize; id++) {
            padded.add("[PAD" + id + "]");
            paddedTypes[id] = UNUSED;
        }
        return new GgufVocabulary(model, padded, Arrays.copyOf(scores, vocabSize), paddedTypes, merges, pre, bosId,
                eosId, padId, unkId, addBos, addEos, addSpacePrefix);
    }

    /** llama.cpp picks its split regex by name; an unknown one would tokenize differently, so it is refused. */
    private static String preTokenizer(JsonNode root, List<String> merges, Path file) {
        List<String> regexes = new ArrayList<>();
        collectSplits(root.path("pre_tokenizer"), regexes);
        if (merges.isEmpty()) {
            return "default"; // every token is one byte: the split cannot change the result
        }
        if (regexes.isEmpty()) {
            return "gpt2";
        }
        String name = regexes.size() == 1 ? KNOWN_SPLITS.get(regexes.get(0)) : null;
        if (name == null) {
            throw new LongctxException(file + ": pre_tokenizer splits with " + regexes + ", which matches none of "
                    + "the llama.cpp pre-tokenizers longctx names (" + String.join(", ", KNOWN_SPLITS.values())
                    + ", gpt2)");
        }
        return name;
    }

    private static void collectSplits(JsonNode node, List<String> out) {
        if (node.path("type").asText("").equals("Split") && node.path("pattern").has("Regex")) {
            out.add(node.path("pattern").path("Regex").asText());
        }
        for (JsonNode child : node.path("pretokenizers")) {
            collectSplits(child, out);
        }
    }

    private static boolean mentionsType(JsonNode node, String type) {
        if (node.path("type").asText("").equals(type)) {
            return true;
        }
        for (JsonNode child : node.path("pretokenizers")) {
            if (mentionsType(child, type)) {
                return true;
            }
        }
        return false;
    }

    private static JsonNode tokenizerConfig(Path file, ObjectMapper mapper) {
        if (!Files.isRegularFile(file)) {
            return mapper.createObjectNode();
        }
        try {
            return mapper.readTree(file.toFile());
        } catch (IOException e) {
            throw new LongctxException(file + ": unreadable (" + e.getMessage() + ")");
        }
    }

    /** tokenizer_config.json names special tokens as a string or as {"content": ...}; null when absent or unknown. */
    private static Integer idOf(JsonNode token, List<String> tokens) {
        String content = token.isTextual() ? token.asText() : token.path("content").isTextual()
                ? token.path("content").asText() : null;
        int id = content == null ? -1 : tokens.indexOf(content);
        return id < 0 ? null : id;
    }

    private static void put(String[] byId, int id, String token, Path file) {
        if (id < 0 || id >= byId.length) {
            throw new LongctxException(file + ": token '" + token + "' has id " + id + ", outside the vocabulary of "
                    + byId.length);
        }
        byId[id] = token;
    }

    /** Writes the tokenizer.ggml.* keys. */
    void writeTo(GgufWriter gguf) {
        gguf.putString("tokenizer.ggml.model", model);
        if (pre != null) {
            gguf.putString("tokenizer.ggml.pre", pre);
        }
        gguf.putStrings("tokenizer.ggml.tokens", tokens);
        gguf.putF32s("tokenizer.ggml.scores", scores);
        gguf.putI32s("tokenizer.ggml.token_type", types);
        if (merges != null) {
            gguf.putStrings("tokenizer.ggml.merges", merges);
        }
        putId(gguf, "tokenizer.ggml.bos_token_id", bosId);
        putId(gguf, "tokenizer.ggml.eos_token_id", eosId);
        putId(gguf, "tokenizer.ggml.padding_token_id", padId);
        putId(gguf, "tokenizer.ggml.unknown_token_id", unkId);
        gguf.putBool("tokenizer.ggml.add_bos_token", addBos);
        gguf.putBool("tokenizer.ggml.add_eos_token", addEos);
        if (model.equals("llama")) {
            gguf.putBool("tokenizer.ggml.add_space_prefix", addSpacePrefix);
        }
    }

    private static void putId(GgufWriter gguf, String key, Integer id) {
        if (id != null) {
            gguf.putU32(key, id);
        }
    }
}
