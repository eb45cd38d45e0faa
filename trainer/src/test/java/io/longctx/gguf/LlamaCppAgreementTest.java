package io.longctx.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.longctx.SharedAssets;
import io.longctx.data.tokenize.ByteLevelTokenizer;
import io.longctx.data.tokenize.TextTokenizer;
import io.longctx.eval.ModelSession;
import io.longctx.model.ModelConfig;
import io.longctx.model.TensorSource;
import io.longctx.safetensors.DType;
import io.longctx.safetensors.SafetensorsFile;
import io.longctx.testing.TinyModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GGUF files longctx writes, run by a real llama.cpp (the pinned node-llama-cpp), against longctx's own forward pass
 * on the same weights: every next-token log-probability above -30, every argmax and a 20-token greedy continuation.
 */
class LlamaCppAgreementTest {
    private static final double TOLERANCE = 1e-3;
    /**
     * bf16 matrices, the same rounded weights on both sides: llama.cpp also rounds the activations that meet them to
     * bf16 (8 significant bits), which moves this random model's large logits by up to ~0.5% (measured 0.17).
     */
    private static final double BF16_TOLERANCE = 0.25;
    /** ... and may swap a near-tie: at least 97% of the argmaxes agree (measured 198/200). */
    private static final double BF16_ARGMAX_SHARE = 0.97;
    private static final int GREEDY = 20;

    private static LlamaCppCheck llamaCpp;

    @TempDir
    Path tmp;

    @BeforeAll
    static void locate() {
        llamaCpp = LlamaCppTesting.orSkip();
    }

    /** A random Llama with grouped-query attention: hidden 64, 2 layers, 4 heads over 2 KV heads, vocabulary 300. */
    private static ObjectNode gqaLlama() {
        ObjectNode c = TinyModels.llamaConfig();
        c.put("hidden_size", 64);
        c.put("intermediate_size", 96);
        c.put("vocab_size", 300);
        c.put("max_position_embeddings", 64);
        return c;
    }

    private static ObjectNode scaled(ObjectNode config, String json) throws Exception {
        config.set("rope_scaling", new ObjectMapper().readTree(json));
        return config;
    }

    @Test
    void yarnX4_beyondTheOriginalContext_agrees() throws Exception {
        ExportAgreement a = agreement(scaled(gqaLlama(), "{\"rope_type\":\"yarn\",\"factor\":4.0,"
                + "\"original_max_position_embeddings\":64}"), 200, DType.F32);
        assertAgrees(a, TOLERANCE);
    }

    @Test
    void yarnWithAnAttentionFactor_agrees() throws Exception {
        ExportAgreement a = agreement(scaled(gqaLlama(), "{\"rope_type\":\"yarn\",\"factor\":4.0,"
                + "\"original_max_position_embeddings\":64,\"attention_factor\":1.3}"), 200, DType.F32);
        assertAgrees(a, TOLERANCE);
    }

    @Test
    void unscaled_agrees() throws Exception {
        assertAgrees(agreement(gqaLlama(), 60, DType.F32), TOLERANCE);
    }

    @Test
    void linearX4_agrees() throws Exception {
        ExportAgreement a = agreement(scaled(gqaLlama(), "{\"rope_type\":\"linear\",\"factor\":4.0}"), 200,
                DType.F32);
        assertAgrees(a, TOLERANCE);
    }

    @Test
    void llama3_asFrequencyFactors_agrees() throws Exception {
        ExportAgreement a = agreement(scaled(gqaLlama(), "{\"rope_type\":\"llama3\",\"factor\":4.0,"
                + "\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,\"original_max_position_embeddings\":64}"),
                200, DType.F32);
        assertAgrees(a, TOLERANCE);
    }

    @Test
    void qwen2WithBiases_yarnX4_agrees() throws Exception {
        ObjectNode config = scaled(gqaLlama(), "{\"rope_type\":\"yarn\",\"factor\":4.0,"
                + "\"original_max_position_embeddings\":64}");
        config.put("model_type", "qwen2");
        config.put("rope_theta", 1000000.0);
        assertAgrees(agreement(config, 200, DType.F32), TOLERANCE);
    }

    @Test
    void bf16File_agreesWithinBf16Tolerance() throws Exception {
        ExportAgreement a = agreement(scaled(gqaLlama(), "{\"rope_type\":\"yarn\",\"factor\":4.0,"
                + "\"original_max_position_embeddings\":64}"), 200, DType.BF16);
        assertTrue(a.maxAbsLogProbDifference() <= BF16_TOLERANCE, a.summary());
        assertTrue(a.argmaxAgreements() >= BF16_ARGMAX_SHARE * a.positions(), a.summary());
        assertTrue(a.greedyIdentical(), a.summary());
    }

    @Test
    void stories260K_agrees() throws Exception {
        Path dir = SharedAssets.stories260K();
        int[] ids = SharedAssets.stories260KReferenceIds();
        ModelConfig config = ModelConfig.load(dir);
        Path gguf = tmp.resolve("stories260K.gguf");
        try (SafetensorsFile weights = SafetensorsFile.open(dir.resolve("model.safetensors"))) {
            GgufExport.write(config, TensorSource.of(weights), llama2cVocabulary(config.vocabSize()), DType.F32, gguf);
        }
        ExportAgreement a = compare(dir, gguf, ids);
        System.out.println("stories260K: " + a.summary());
        assertAgrees(a, TOLERANCE);
    }

    @Test
    void byteTokenizer_llamaCppTokenizesTextAsLongctxDoes() throws Exception {
        ObjectNode config = gqaLlama();
        config.put("vocab_size", ByteLevelTokenizer.VOCAB_SIZE);
        Path model = TinyModels.write(tmp.resolve("bytes"), config, 5);
        Path gguf = tmp.resolve("bytes.gguf");
        try (SafetensorsFile weights = SafetensorsFile.open(model.resolve("model.safetensors"))) {
            GgufExport.write(ModelConfig.load(model), TensorSource.of(weights), GgufVocabulary.byteLevel(),
                    DType.F32, gguf);
        }
        String text = "Once upon a time, \"Ünïcode\" and\ttabs\nnew lines  two spaces.";
        LlamaCppCheck.Result r = llamaCpp.run(gguf, ByteLevelTokenizer.VOCAB_SIZE, new int[] {1, 10, 20}, 0, text, tmp.resolve("work-bytes"));
        try (TextTokenizer tokenizer = ByteLevelTokenizer.load()) {
            assertArrayEquals(tokenizer.encode(text), r.tokens(), "llama.cpp's tokens for the text");
        }
    }

    /** llama2.c's 512-token vocabulary layout (unk, BOS, EOS, 256 byte tokens, then merged pieces) with stand-in
     * pieces: the check feeds ids, so only the layout matters. */
    private static GgufVocabulary llama2cVocabulary(int size) {
        List<String> tokens = new ArrayList<>(List.of("<unk>", "<s>", "</s>"));
        int[] types = new int[size];
        types[0] = GgufVocabulary.UNKNOWN;
        types[1] = GgufVocabulary.CONTROL;
        types[2] = GgufVocabulary.CONTROL;
        for (int b = 0; b < 256; b++) {
            tokens.add(String.format("<0x%02X>", b));
            types[3 + b] = GgufVocabulary.BYTE;
        }
        for (int id = tokens.size(); id < size; id++) {
            tokens.add("piece" + id);
            types[id] = GgufVocabulary.NORMAL;
        }
        return new GgufVocabulary("llama", tokens, new float[size], types, null, null, 1, 2, null, 0, true, false,
                true);
    }

    /** The weights are stored in the file's type, so both sides compute with the same (rounded) values. */
    private ExportAgreement agreement(ObjectNode configJson, int length, DType dtype) throws Exception {
        Path model = tmp.resolve("model");
        TinyModels.write(model, configJson, TinyModels.randomWeights(ModelConfig.parse(configJson, "test"), 42), dtype);
        ModelConfig config = ModelConfig.load(model);
        Path gguf = tmp.resolve("model.gguf");
        try (SafetensorsFile weights = SafetensorsFile.open(model.resolve("model.safetensors"))) {
            GgufExport.write(config, TensorSource.of(weights), placeholderVocabulary(config.vocabSize()), dtype,
                    gguf);
        }
        Random random = new Random(7);
        int[] ids = new int[length];
        ids[0] = 1;
        for (int i = 1; i < length; i++) {
            ids[i] = 3 + random.nextInt(config.vocabSize() - 3);
        }
        ExportAgreement a = compare(model, gguf, ids);
        System.out.println(config.modelType() + " " + config.ropeScaling().ropeType() + " " + dtype + ": "
                + a.summary());
        return a;
    }

    private ExportAgreement compare(Path model, Path gguf, int[] ids) {
        LlamaCppCheck.Result r = llamaCpp.run(gguf, ModelConfig.load(model).vocabSize(), ids, GREEDY, null,
                tmp.resolve("work"));
        try (ModelSession session = ModelSession.open(model, null, "sdpa")) {
            return ExportAgreement.measure(session.model, session.manager, ids, r);
        }
    }

    private static GgufVocabulary placeholderVocabulary(int size) {
        return llama2cVocabulary(size);
    }

    private static void assertAgrees(ExportAgreement a, double tolerance) {
        assertTrue(a.maxAbsLogProbDifference() <= tolerance, a.summary());
        assertEquals(a.positions(), a.argmaxAgreements(), a.summary());
        assertEquals(GREEDY, a.greedyLlamaCpp().length, a.summary());
        assertTrue(a.greedyIdentical(), a.summary() + ": " + java.util.Arrays.toString(a.greedyOurs()) + " vs "
                + java.util.Arrays.toString(a.greedyLlamaCpp()));
    }
}
