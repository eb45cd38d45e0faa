package io.longctx.data.tokenize;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.longctx.Hashing;
import io.longctx.LongctxException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The tokenizer of longctx's tiny demo models: every byte of the UTF-8 text is one token, plus three specials.
 * Written as a standard HF tokenizer.json (ByteLevel pre-tokenizer and decoder, a BPE model with no merges), so the
 * same tokenizer library loads it and exported models work with transformers.
 *
 * <p>Ids: 0 {@code <pad>}, 1 {@code <s>} (BOS), 2 {@code </s>} (EOS), 3 + b for byte b.
 */
public final class ByteLevelTokenizer {
    public static final int PAD_ID = 0;
    public static final int BOS_ID = 1;
    public static final int EOS_ID = 2;
    public static final int BYTE_OFFSET = 3;
    public static final int VOCAB_SIZE = BYTE_OFFSET + 256;

    private static volatile String sha256;

    private ByteLevelTokenizer() {
    }

    /** Hash of {@link #json()}'s UTF-8 bytes: a tokenizer.json with this hash is this tokenizer. */
    public static String sha256() {
        if (sha256 == null) {
            sha256 = Hashing.sha256(json().getBytes(StandardCharsets.UTF_8));
        }
        return sha256;
    }

    /**
     * The ids of {@code text}: 3 + b for each UTF-8 byte b; null for text with an unpaired surrogate, which has no
     * UTF-8 form (the tokenizers library decides what it becomes).
     */
    public static int[] encode(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            boolean pair = Character.isHighSurrogate(c) && i + 1 < text.length()
                    && Character.isLowSurrogate(text.charAt(i + 1));
            if (pair) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return null;
            }
        }
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            ids[i] = BYTE_OFFSET + (bytes[i] & 0xff);
        }
        return ids;
    }

    /** GPT-2's reversible map from bytes to printable code points, which the ByteLevel pre-tokenizer applies. */
    public static int[] byteToCodePoint() {
        int[] map = new int[256];
        boolean[] printable = new boolean[256];
        for (int b = '!'; b <= '~'; b++) {
            printable[b] = true;
        }
        for (int b = 0xA1; b <= 0xAC; b++) {
            printable[b] = true;
        }
        for (int b = 0xAE; b <= 0xFF; b++) {
            printable[b] = true;
        }
        int next = 0;
        for (int b = 0; b < 256; b++) {
            map[b] = printable[b] ? b : 256 + next++;
        }
        return map;
    }

    public static String json() {
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode root = mapper.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        String[] specials = {"<pad>", "<s>", "</s>"};
        for (int i = 0; i < specials.length; i++) {
            ObjectNode token = added.addObject();
            token.put("id", i);
            token.put("content", specials[i]);
            token.put("single_word", false);
            token.put("lstrip", false);
            token.put("rstrip", false);
            token.put("normalized", false);
            token.put("special", true);
        }
        root.putNull("normalizer");
        root.set("pre_tokenizer", byteLevel(mapper));
        root.putNull("post_processor");
        root.set("decoder", byteLevel(mapper));
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("ignore_merges", false);
        ObjectNode vocab = model.putObject("vocab");
        for (int i = 0; i < specials.length; i++) {
            vocab.put(specials[i], i);
        }
        int[] map = byteToCodePoint();
        for (int b = 0; b < 256; b++) {
            vocab.put(new String(Character.toChars(map[b])), BYTE_OFFSET + b);
        }
        model.putArray("merges");
        return root.toPrettyString();
    }

    private static ObjectNode byteLevel(ObjectMapper mapper) {
        ObjectNode node = mapper.createObjectNode();
        node.put("type", "ByteLevel");
        node.put("add_prefix_space", false);
        node.put("trim_offsets", false);
        node.put("use_regex", false);
        return node;
    }

    public static TextTokenizer load() {
        return TextTokenizer.fromJson(json(), java.nio.file.Path.of("<byte-level tokenizer>"));
    }

    /** Writes tokenizer.json plus the tokenizer_config.json that names its specials for transformers. */
    public static Path write(Path dir) {
        try {
            Files.createDirectories(dir);
            Path file = dir.resolve(TextTokenizer.FILE_NAME);
            Files.writeString(file, json());
            Files.writeString(dir.resolve("tokenizer_config.json"), """
                    {
                      "tokenizer_class": "PreTrainedTokenizerFast",
                      "bos_token": "<s>",
                      "eos_token": "</s>",
                      "pad_token": "<pad>",
                      "add_bos_token": true,
                      "add_eos_token": false,
                      "model_max_length": 1000000000000000019884624838656
                    }
                    """);
            return file;
        } catch (IOException e) {
            throw new LongctxException(dir + ": cannot write the byte-level tokenizer (" + e.getMessage() + ")");
        }
    }
}
