package io.longctx.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.longctx.data.tokenize.ByteLevelTokenizer;
import io.longctx.data.tokenize.TextTokenizer;
import io.longctx.model.ModelConfig;
import io.longctx.model.TensorSource;
import io.longctx.safetensors.DType;
import io.longctx.safetensors.SafetensorsFile;
import io.longctx.testing.TinyModels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The vocabulary written from a tokenizer.json makes llama.cpp tokenize text exactly as HF's tokenizers library
 * does: a byte-level BPE with Llama 3's pre-tokenizer (llama.cpp's gpt2 model, pre llama-bpe) and a
 * SentencePiece-style BPE with byte fallback (llama.cpp's llama model), each with merges learnt here from a sample.
 */
class LlamaCppTokenizerTest {
    private static final String LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+"
            + "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String SAMPLE = "Call me Ishmael. Some years ago, never mind how long precisely, having "
            + "little or no money in my purse, and nothing particular to interest me on shore, I thought I would "
            + "sail about a little and see the watery part of the world. It is a way I have of driving off the "
            + "spleen and regulating the circulation. 1851 was the year; 2024 is another.";
    private static final String TEXT = "The little part of the world, and the money I'd thought about — 12345 Ünïcode"
            + "\ttabs\n\nnew  lines.";
    private static final ObjectMapper JSON = new ObjectMapper();

    private static LlamaCppCheck llamaCpp;

    @TempDir
    Path tmp;

    @BeforeAll
    static void locate() {
        llamaCpp = LlamaCppTesting.orSkip();
    }

    @Test
    void byteLevelBpe_withLlama3Split_tokenizesAsHf() throws Exception {
        int[] printable = ByteLevelTokenizer.byteToCodePoint();
        List<String> symbols = new ArrayList<>();
        for (byte b : SAMPLE.getBytes(StandardCharsets.UTF_8)) {
            symbols.add(new String(Character.toChars(printable[b & 0xFF])));
        }
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (int b = 0; b < 256; b++) {
            vocab.put(new String(Character.toChars(printable[b])), b);
        }
        List<String> merges = learnMerges(symbols, vocab, 120, "Ġ");
        ObjectNode root = tokenizerJson(vocab, merges, List.of("<|begin_of_text|>", "<|end_of_text|>"));
        ArrayNode sequence = root.putObject("pre_tokenizer").put("type", "Sequence").putArray("pretokenizers");
        ObjectNode split = sequence.addObject().put("type", "Split");
        split.putObject("pattern").put("Regex", LLAMA3_SPLIT);
        split.put("behavior", "Isolated").put("invert", false);
        sequence.addObject().put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true)
                .put("use_regex", false);
        root.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", true).put("trim_offsets", true)
                .put("use_regex", true);
        root.with("model").put("byte_fallback", false).put("ignore_merges", true);
        GgufVocabulary vocabulary = check(root, "gpt2");
        assertEquals("llama-bpe", vocabulary.pre());
    }

    @Test
    void sentencePieceStyleBpe_withByteFallback_tokenizesAsHf() throws Exception {
        Map<String, Integer> vocab = new LinkedHashMap<>();
        vocab.put("<unk>", 0);
        vocab.put("<s>", 1);
        vocab.put("</s>", 2);
        for (int b = 0; b < 256; b++) {
            vocab.put(String.format("<0x%02X>", b), 3 + b);
        }
        String normalized = "▁" + SAMPLE.replace(' ', '▁');
        List<String> symbols = new ArrayList<>();
        normalized.codePoints().forEach(c -> symbols.add(new String(Character.toChars(c))));
        for (String s : symbols) {
            vocab.putIfAbsent(s, vocab.size());
        }
        List<String> merges = learnMerges(symbols, vocab, 120, "▁");
        ObjectNode root = tokenizerJson(vocab, merges, List.of());
        ArrayNode normalizers = root.putObject("normalizer").put("type", "Sequence").putArray("normalizers");
        normalizers.addObject().put("type", "Prepend").put("prepend", "▁");
        ObjectNode replace = normalizers.addObject().put("type", "Replace");
        replace.putObject("pattern").put("String", " ");
        replace.put("content", "▁");
        root.putNull("pre_tokenizer");
        ArrayNode decoders = root.putObject("decoder").put("type", "Sequence").putArray("decoders");
        ObjectNode unspace = decoders.addObject().put("type", "Replace");
        unspace.putObject("pattern").put("String", "▁");
        unspace.put("content", " ");
        decoders.addObject().put("type", "ByteFallback");
        decoders.addObject().put("type", "Fuse");
        root.with("model").put("byte_fallback", true).put("unk_token", "<unk>").put("fuse_unk", true)
                .put("ignore_merges", false);
        root.putArray("added_tokens");
        for (String special : List.of("<unk>", "<s>", "</s>")) {
            addSpecial(root, special, vocab.get(special));
        }
        check(root, "llama");
    }

    private GgufVocabulary check(ObjectNode tokenizerJson, String expectedModel) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve(expectedModel));
        Path file = dir.resolve(TextTokenizer.FILE_NAME);
        Files.writeString(file, tokenizerJson.toPrettyString());
        int vocabSize = tokenizerJson.path("model").path("vocab").size()
                + (expectedModel.equals("gpt2") ? tokenizerJson.path("added_tokens").size() : 0);
        ObjectNode config = TinyModels.llamaConfig();
        config.put("vocab_size", vocabSize);
        Path model = TinyModels.write(tmp.resolve(expectedModel + "-model"), config, 3);
        GgufVocabulary vocabulary = GgufVocabulary.fromTokenizerJson(file, vocabSize, null, null);
        assertEquals(expectedModel, vocabulary.model());
        Path gguf = tmp.resolve(expectedModel + ".gguf");
        try (SafetensorsFile weights = SafetensorsFile.open(model.resolve("model.safetensors"))) {
            GgufExport.write(ModelConfig.load(model), TensorSource.of(weights), vocabulary, DType.F32, gguf);
        }
        int[] theirs = llamaCpp.run(gguf, vocabSize, new int[] {5, 6}, 0, TEXT, tmp.resolve("work")).tokens();
        try (TextTokenizer hf = TextTokenizer.load(file)) {
            int[] ours = hf.encode(TEXT);
            org.junit.jupiter.api.Assertions.assertTrue(ours.length < TEXT.getBytes(StandardCharsets.UTF_8).length
                    * 0.8, "the learnt merges shorten the text: " + ours.length + " tokens");
            assertArrayEquals(ours, theirs, "HF " + java.util.Arrays.toString(ours) + "\nllama.cpp "
                    + java.util.Arrays.toString(theirs));
        }
        return vocabulary;
    }

    private static ObjectNode tokenizerJson(Map<String, Integer> vocab, List<String> merges, List<String> specials) {
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        root.putArray("added_tokens");
        for (String special : specials) {
            addSpecial(root, special, vocab.size() + root.path("added_tokens").size());
        }
        root.putNull("normalizer");
        root.putNull("post_processor");
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        ObjectNode v = model.putObject("vocab");
        vocab.forEach(v::put);
        ArrayNode m = model.putArray("merges");
        merges.forEach(m::add);
        return root;
    }

    private static void addSpecial(ObjectNode root, String content, int id) {
        ((ArrayNode) root.get("added_tokens")).addObject().put("id", id).put("content", content)
                .put("single_word", false).put("lstrip", false).put("rstrip", false).put("normalized", false)
                .put("special", true);
    }

    /** Classic BPE training: repeatedly merge the most frequent adjacent pair (ties: first seen), adding to vocab. */
    private static List<String> learnMerges(List<String> symbols, Map<String, Integer> vocab, int count,
            String wordStart) {
        List<String> seq = new ArrayList<>(symbols);
        List<String> merges = new ArrayList<>();
        for (int n = 0; n < count; n++) {
            Map<String, Integer> counts = new LinkedHashMap<>();
            for (int i = 0; i + 1 < seq.size(); i++) {
                if (seq.get(i + 1).startsWith(wordStart)) { // within words, as a pre-tokenized corpus would be
                    continue;
                }
                counts.merge(seq.get(i) + " " + seq.get(i + 1), 1, Integer::sum);
            }
            String best = null;
            for (Map.Entry<String, Integer> e : counts.entrySet()) {
                if (best == null || e.getValue() > counts.get(best)) {
                    best = e.getKey();
                }
            }
            if (best == null || counts.get(best) < 2) {
                break;
            }
            String[] pair = best.split(" ");
            String joined = pair[0] + pair[1];
            if (vocab.containsKey(joined)) {
                break;
            }
            merges.add(best);
            vocab.put(joined, vocab.size());
            List<String> next = new ArrayList<>();
            for (int i = 0; i < seq.size(); i++) {
                if (i + 1 < seq.size() && seq.get(i).equals(pair[0]) && seq.get(i + 1).equals(pair[1])) {
                    next.add(joined);
                    i++;
                } else {
                    next.add(seq.get(i));
                }
            }
            seq = next;
        }
        return merges;
    }

}
