package io.longctx.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.LongctxException;
import io.longctx.recipe.RecipeNode;
import io.longctx.rope.LongRopeScaling;
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

    /** Reads a config object (a config.json's content), failing with one line naming the source and key. */
    public static ModelConfig parse(JsonNode root, String source) {
        if (root == null || !root.isObject()) {
            throw new LongctxException(source + ": must hold a JSON object");
        }
        RecipeNode node = RecipeNode.fromJson(root, source);
        ModelConfig config = parse(node, source);
        node.problems().throwIfAny();
        return config;
    }

    /**
     * Reads the architecture keys of a mapping (a config.json, or a recipe's model.architecture) into the node's
     * problems; null when there is one. Keys longctx does not read are left for the caller: a recipe reports them,
     * a config.json written by another tool may hold many.
     */
    public static ModelConfig parse(RecipeNode node, String source) {
        int before = node.problems().count();
        String type = node.requiredString("model_type");
        if (type != null && !SUPPORTED_TYPES.contains(type)) {
            node.get("model_type").problem("unsupported model_type '" + type + "' (supported: " + SUPPORTED_TYPES
                    + ")");
        }
        String activation = node.string("hidden_act", "silu");
        node.require("hidden_act", "silu".equals(activation), "must be silu (the SwiGLU MLP of the Llama family), "
                + "got '" + activation + "'");
        int hidden = node.requiredInteger("hidden_size");
        int heads = node.requiredInteger("num_attention_heads");
        int kvHeads = node.integer("num_key_value_heads", heads);
        int headDim = node.integer("head_dim", heads > 0 ? hidden / heads : 0);
        int maxPositions = node.requiredInteger("max_position_embeddings");
        int intermediate = node.requiredInteger("intermediate_size");
        int layers = node.requiredInteger("num_hidden_layers");
        int vocab = node.requiredInteger("vocab_size");
        double eps = node.number("rms_norm_eps", 1e-6);
        double theta = node.number("rope_theta", 10000.0);
        double partial = node.number("partial_rotary_factor", 1.0);
        RecipeNode v5 = node.get("rope_parameters");
        RecipeNode ropeNode = v5.isMissing() ? node.get("rope_scaling") : v5;
        if (v5.isMapping()) {
            theta = v5.number("rope_theta", theta);
            partial = v5.number("partial_rotary_factor", partial);
        }
        Integer topOriginal = node.optionalInteger("original_max_position_embeddings");
        RopeScaling scaling = new RopeScalingParser(maxPositions, topOriginal).parse(ropeNode);
        boolean attentionBias = node.bool("attention_bias", false);
        boolean tie = node.bool("tie_word_embeddings", false);
        boolean mlpBias = node.bool("mlp_bias", false);
        Integer bos = tokenId(node, "bos_token_id");
        Integer eos = tokenId(node, "eos_token_id");
        if (node.problems().count() > before) {
            return null;
        }
        boolean qwen = type.equals("qwen2");
        try {
            ModelConfig config = new ModelConfig(type, hidden, intermediate, layers, heads, kvHeads, headDim, vocab,
                    maxPositions, eps, theta, partial, scaling, tie, qwen || attentionBias, !qwen && attentionBias,
                    mlpBias, bos, eos, source);
            if (scaling instanceof LongRopeScaling longRope) {
                String problem = longRope.pairsProblem(config.rotaryDim() / 2);
                if (problem != null) {
                    ropeNode.problem(problem);
                    return null;
                }
            }
            return config;
        } catch (LongctxException e) {
            node.problem(e.getMessage().substring(Math.min(e.getMessage().length(), source.length() + 2)));
            return null;
        }
    }

    /** A token id; HF allows a list (several EOS ids), of which the first is taken. */
    private static Integer tokenId(RecipeNode node, String key) {
        RecipeNode value = node.get(key);
        if (value.isSequence()) {
            List<RecipeNode> items = value.elements();
            if (items.isEmpty()) {
                return null;
            }
            value = items.get(0);
        }
        if (value.isMissing()) {
            return null;
        }
        try {
            int id = Integer.parseInt(value.text() == null ? "" : value.text().trim());
            if (id >= 0) {
                return id;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        value.problem("must be a token id (an integer >= 0), got '" + value.text() + "'");
        return null;
    }
}
