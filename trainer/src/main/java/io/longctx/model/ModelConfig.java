package io.longctx.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.LongctxException;
import io.longctx.rope.RopeGeometry;
import io.longctx.rope.RopeScaling;
import io.longctx.rope.RopeScalingParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The architecture of a Llama-family decoder (llama, mistral, qwen2) as read from an HF {@code config.json}.
 *
 * @param qkvBias q/k/v projections carry a bias (qwen2 always; llama when attention_bias)
 * @param outputBias o_proj carries a bias (llama attention_bias)
 * @param source the file it was read from, for messages
 */
public record ModelConfig(
        String modelType, int hiddenSize, int intermediateSize, int numLayers, int numHeads, int numKvHeads,
        int headDim, int vocabSize, int maxPositions, double rmsNormEps, double ropeTheta, double partialRotaryFactor,
        RopeScaling ropeScaling, boolean tieWordEmbeddings, boolean qkvBias, boolean outputBias, boolean mlpBias,
        Integer bosTokenId, Integer eosTokenId, String source) {

    public static final List<String> SUPPORTED_TYPES = List.of("llama", "mistral", "qwen2");

    public ModelConfig {
        require(hiddenSize > 0 && intermediateSize > 0 && numLayers > 0 && vocabSize > 0 && maxPositions > 0,
                source, "sizes must be positive");
        require(numHeads > 0 && numKvHeads > 0 && numHeads % numKvHeads == 0, source,
                "num_attention_heads (" + numHeads + ") must be a positive multiple of num_key_value_heads ("
                        + numKvHeads + ")");
        require(headDim > 0, source, "head_dim must be positive");
        require(partialRotaryFactor > 0 && partialRotaryFactor <= 1, source,
                "partial_rotary_factor must be in (0, 1]");
        int rot = (int) (headDim * partialRotaryFactor);
        require(rot >= 2 && rot % 2 == 0, source, "rotary dimension head_dim x partial_rotary_factor = " + rot
                + " must be even and >= 2");
        require(ropeTheta > 1, source, "rope_theta must be > 1");
        require(rmsNormEps > 0, source, "rms_norm_eps must be positive");
    }

    private static void require(boolean ok, String source, String message) {
        if (!ok) {
            throw new LongctxException(source + ": " + message);
        }
    }

    public int rotaryDim() {
        return (int) (headDim * partialRotaryFactor);
    }

    public RopeGeometry ropeGeometry() {
        return new RopeGeometry(rotaryDim(), ropeTheta);
    }

    public ModelConfig withRopeScaling(RopeScaling scaling) {
        return new ModelConfig(modelType, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim,
                vocabSize, maxPositions, rmsNormEps, ropeTheta, partialRotaryFactor, scaling, tieWordEmbeddings,
                qkvBias, outputBias, mlpBias, bosTokenId, eosTokenId, source);
    }

    /** HF tensor names with their shapes, in checkpoint order. */
    public Map<String, long[]> expectedTensors() {
        Map<String, long[]> t = new LinkedHashMap<>();
        long q = (long) numHeads * headDim;
        long kv = (long) numKvHeads * headDim;
        t.put("model.embed_tokens.weight", new long[] {vocabSize, hiddenSize});
        for (int i = 0; i < numLayers; i++) {
            String p = "model.layers." + i + ".";
            t.put(p + "input_layernorm.weight", new long[] {hiddenSize});
            t.put(p + "self_attn.q_proj.weight", new long[] {q, hiddenSize});
            t.put(p + "self_attn.k_proj.weight", new long[] {kv, hiddenSize});
            t.put(p + "self_attn.v_proj.weight", new long[] {kv, hiddenSize});
            if (qkvBias) {
                t.put(p + "self_attn.q_proj.bias", new long[] {q});
                t.put(p + "self_attn.k_proj.bias", new long[] {kv});
                t.put(p + "self_attn.v_proj.bias", new long[] {kv});
            }
            t.put(p + "self_attn.o_proj.weight", new long[] {hiddenSize, q});
            if (outputBias) {
                t.put(p + "self_attn.o_proj.bias", new long[] {hiddenSize});
            }
            t.put(p + "post_attention_layernorm.weight", new long[] {hiddenSize});
            t.put(p + "mlp.gate_proj.weight", new long[] {intermediateSize, hiddenSize});
            t.put(p + "mlp.up_proj.weight", new long[] {intermediateSize, hiddenSize});
            t.put(p + "mlp.down_proj.weight", new long[] {hiddenSize, intermediateSize});
            if (mlpBias) {
                t.put(p + "mlp.gate_proj.bias", new long[] {intermediateSize});
                t.put(p + "mlp.up_proj.bias", new long[] {intermediateSize});
                t.put(p + "mlp.down_proj.bias", new long[] {hiddenSize});
            }
        }
        t.put("model.norm.weight", new long[] {hiddenSize});
        if (!tieWordEmbeddings) {
            t.put("lm_head.weight", new long[] {vocabSize, hiddenSize});
        }
        return t;
    }

    public long parameterCount() {
        long n = 0;
        for (long[] shape : expectedTensors().values()) {
            long size = 1;
            for (long d : shape) {
                size *= d;
            }
            n += size;
        }
        return n;
    }

    /** Reads {@code dir/config.json}. */
    public static ModelConfig load(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new LongctxException(dir + ": model directory not found");
        }
        Path file = dir.resolve("config.json");
        if (!Files.isRegularFile(file)) {
            throw new LongctxException(file + ": not found (an HF model directory needs config.json)");
        }
        return read(file);
    }

    /** Reads a config file. */
    public static ModelConfig read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new LongctxException(file + ": not found");
        }
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new LongctxException(file + ": not valid JSON (" + firstLine(e.getMessage()) + ")");
        }
        return parse(root, file.toString());
    }

    static String firstLine(String message) {
        if (message == null) {
            return "unreadable";
        }
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl);
    }

    public static ModelConfig parse(JsonNode root, String source) {
        if (root == null || !root.isObject()) {
            throw new LongctxException(source + ": must hold a JSON object");
        }
        ConfigFields f = new ConfigFields(root, source);
        String type = f.string("model_type", null);
        if (type == null) {
            throw new LongctxException(source + ": model_type is missing (supported: " + SUPPORTED_TYPES + ")");
        }
        if (!SUPPORTED_TYPES.contains(type)) {
            throw new LongctxException(source + ": unsupported model_type '" + type + "' (supported: "
                    + SUPPORTED_TYPES + ")");
        }
        int hidden = f.integer("hidden_size", null);
        int heads = f.integer("num_attention_heads", null);
        int kvHeads = f.integer("num_key_value_heads", heads);
        int headDim = f.integer("head_dim", heads > 0 ? hidden / heads : 0);
        int maxPositions = f.integer("max_position_embeddings", null);
        JsonNode v5 = root.get("rope_parameters");
        JsonNode ropeNode = v5 != null && !v5.isNull() ? v5 : root.get("rope_scaling");
        double theta = f.number("rope_theta", 10000.0);
        double partial = f.number("partial_rotary_factor", 1.0);
        if (v5 != null && v5.isObject()) {
            ConfigFields rp = new ConfigFields(v5, source + ": rope_parameters");
            theta = rp.number("rope_theta", theta);
            partial = rp.number("partial_rotary_factor", partial);
        }
        Integer topOriginal = root.hasNonNull("original_max_position_embeddings")
                ? f.integer("original_max_position_embeddings", null) : null;
        String ropeKey = v5 != null && !v5.isNull() ? "rope_parameters" : "rope_scaling";
        RopeScaling scaling = new RopeScalingParser(source + ": " + ropeKey, maxPositions, topOriginal)
                .parse(ropeNode);
        boolean attentionBias = f.bool("attention_bias", false);
        boolean qwen = type.equals("qwen2");
        return new ModelConfig(type, hidden, f.integer("intermediate_size", null),
                f.integer("num_hidden_layers", null), heads, kvHeads, headDim, f.integer("vocab_size", null),
                maxPositions, f.number("rms_norm_eps", 1e-6), theta, partial, scaling,
                f.bool("tie_word_embeddings", false), qwen || attentionBias, !qwen && attentionBias,
                f.bool("mlp_bias", false), f.optionalTokenId("bos_token_id"), f.optionalTokenId("eos_token_id"),
                source);
    }
}
