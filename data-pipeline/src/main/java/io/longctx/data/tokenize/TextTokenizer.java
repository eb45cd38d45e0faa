package io.longctx.data.tokenize;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.Hashing;
import io.longctx.LongctxException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * An HF {@code tokenizer.json} loaded through DJL's tokenizers binding, with truncation and padding off (the
 * library's defaults would cut every document at 512 tokens) and no special tokens added: BOS/EOS are the packer's
 * decision. Batch encoding runs on all cores inside the native library. The built-in byte-level tokenizer (recognised
 * by its exact bytes) is encoded in Java instead: its ids are the UTF-8 bytes plus an offset, and the library's
 * per-token objects cost more than the whole encoding.
 */
public final class TextTokenizer implements AutoCloseable {
    public static final String FILE_NAME = "tokenizer.json";

    private final Path file;
    private final HuggingFaceTokenizer tokenizer;
    private final JsonNode json;
    private final String sha256;
    private final boolean bytesAreTokens;

    private TextTokenizer(Path file, HuggingFaceTokenizer tokenizer, JsonNode json, String sha256) {
        this.file = file;
        this.tokenizer = tokenizer;
        this.json = json;
        this.sha256 = sha256;
        this.bytesAreTokens = sha256.equals(ByteLevelTokenizer.sha256());
    }

    /** Loads {@code tokenizer.json} from a file or a model directory. */
    public static TextTokenizer load(Path fileOrDir) {
        Path file = Files.isDirectory(fileOrDir) ? fileOrDir.resolve(FILE_NAME) : fileOrDir;
        if (!Files.isRegularFile(file)) {
            throw new LongctxException(file + ": not found (text input needs the model's tokenizer.json; "
                    + "give token ids with --ids instead)");
        }
        try {
            byte[] bytes = Files.readAllBytes(file);
            JsonNode json = new ObjectMapper().readTree(bytes);
            HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(file,
                    Map.of("truncation", "false", "padding", "false", "addSpecialTokens", "false"));
            return new TextTokenizer(file, tokenizer, json, Hashing.sha256(bytes));
        } catch (IOException | RuntimeException e) {
            throw new LongctxException(file + ": not a loadable tokenizer (" + e.getMessage() + ")");
        }
    }

    /** Loads tokenizer JSON text (the built-in byte-level tokenizer), named for messages. */
    public static TextTokenizer fromJson(String text, Path name) {
        byte[] bytes = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        try {
            HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(new java.io.ByteArrayInputStream(bytes),
                    Map.of("truncation", "false", "padding", "false", "addSpecialTokens", "false"));
            return new TextTokenizer(name, tokenizer, new ObjectMapper().readTree(bytes), Hashing.sha256(bytes));
        } catch (IOException e) {
            throw new LongctxException(name + ": not a loadable tokenizer (" + e.getMessage() + ")");
        }
    }

    public static boolean exists(Path modelDir) {
        return Files.isRegularFile(modelDir.resolve(FILE_NAME));
    }

    public Path file() {
        return file;
    }

    /** Hash of the tokenizer.json bytes: a store built with another tokenizer is never reused. */
    public String sha256() {
        return sha256;
    }

    /** One more than the largest id in the model vocabulary and the added tokens. */
    public int vocabSize() {
        int max = -1;
        JsonNode vocab = json.path("model").path("vocab");
        if (vocab.isObject()) {
            for (Iterator<JsonNode> it = vocab.elements(); it.hasNext(); ) {
                max = Math.max(max, it.next().asInt());
            }
        } else if (vocab.isArray()) {
            max = vocab.size() - 1;
        }
        for (JsonNode added : json.path("added_tokens")) {
            max = Math.max(max, added.path("id").asInt());
        }
        return max + 1;
    }

    /** The id of a token string (added tokens first, then the model vocabulary), or null. */
    public Integer tokenId(String token) {
        for (JsonNode added : json.path("added_tokens")) {
            if (token.equals(added.path("content").asText())) {
                return added.path("id").asInt();
            }
        }
        JsonNode id = json.path("model").path("vocab").get(token);
        return id != null && id.isInt() ? id.asInt() : null;
    }

    public int[] encode(String text) {
        int[] bytes = bytesAreTokens ? ByteLevelTokenizer.encode(text) : null;
        return bytes != null ? bytes : encodeWithLibrary(text);
    }

    /** The tokenizers library's encoding, whatever the tokenizer. */
    int[] encodeWithLibrary(String text) {
        return toInts(tokenizer.encode(text, false, false));
    }

    /** Encodes a batch in parallel; the i-th result belongs to the i-th text. */
    public int[][] encodeBatch(List<String> texts) {
        if (bytesAreTokens) {
            int[][] out = new int[texts.size()][];
            for (int i = 0; i < out.length; i++) {
                out[i] = encode(texts.get(i));
            }
            return out;
        }
        Encoding[] encodings = tokenizer.batchEncode(texts.toArray(String[]::new), false, false);
        int[][] out = new int[encodings.length][];
        for (int i = 0; i < encodings.length; i++) {
            out[i] = toInts(encodings[i]);
        }
        return out;
    }

    private static int[] toInts(Encoding encoding) {
        long[] ids = encoding.getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = (int) ids[i];
        }
        return out;
    }

    public String decode(int[] ids) {
        long[] longs = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            longs[i] = ids[i];
        }
        return tokenizer.decode(longs, false);
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
