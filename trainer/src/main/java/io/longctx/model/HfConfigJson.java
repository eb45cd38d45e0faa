package io.longctx.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.longctx.LongctxException;
import io.longctx.rope.RopeScaling;

/**
 * Writes an HF config.json for a model as transformers v4, vLLM and llama.cpp's converter read it: rope_scaling in the
 * v4 form and max_position_embeddings = factor x original context. Keys of the base config that longctx does not
 * model (architectures, torch_dtype, ...) are kept.
 */
public final class HfConfigJson {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private HfConfigJson() {
    }

    /**
     * max_position_embeddings as each engine reads it per method: Llama 3's already names the extended context
     * (131072 for Llama-3.1 with factor 8 over 8192); HF's dynamic NTK reads it as the original context; the others
     * name factor x original.
     */
    public static long maxPositions(ModelConfig config, RopeScaling scaling, int original) {
        return switch (scaling.ropeType()) {
            case "llama3" -> config.maxPositions();
            case "dynamic" -> original;
            default -> Math.round(scaling.factor() * original);
        };
    }

    /**
     * @param base the base model's config.json, or null for a model longctx initialised itself
     */
    public static ObjectNode build(ModelConfig config, JsonNode base) {
        ObjectNode out = base != null && base.isObject() ? base.deepCopy() : MAPPER.createObjectNode();
        out.remove("rope_parameters");
        out.remove("transformers_version");
        out.putArray("architectures").add(switch (config.modelType()) {
            case "mistral" -> "MistralForCausalLM";
            case "qwen2" -> "Qwen2ForCausalLM";
            default -> "LlamaForCausalLM";
        });
        out.put("model_type", config.modelType());
        out.put("hidden_size", config.hiddenSize());
        out.put("intermediate_size", config.intermediateSize());
        out.put("num_hidden_layers", config.numLayers());
        out.put("num_attention_heads", config.numHeads());
        out.put("num_key_value_heads", config.numKvHeads());
        out.put("head_dim", config.headDim());
        out.put("vocab_size", config.vocabSize());
        out.put("rms_norm_eps", config.rmsNormEps());
        out.put("hidden_act", "silu");
        out.put("tie_word_embeddings", config.tieWordEmbeddings());
        if (config.partialRotaryFactor() != 1.0) {
            out.put("partial_rotary_factor", config.partialRotaryFactor());
        }
        if (!config.modelType().equals("qwen2")) {
            out.put("attention_bias", config.qkvBias());
        }
        out.put("mlp_bias", config.mlpBias());
        // the base's own form is kept: Llama 3's eos_token_id is a list, of which the model config keeps only one
        if (config.bosTokenId() != null && !out.hasNonNull("bos_token_id")) {
            out.put("bos_token_id", config.bosTokenId());
        }
        if (config.eosTokenId() != null && !out.hasNonNull("eos_token_id")) {
            out.put("eos_token_id", config.eosTokenId());
        }
        out.put("torch_dtype", "float32");
        RopeScaling scaling = config.ropeScaling();
        int original = scaling.originalContext(config.maxPositions());
        out.put("rope_theta", config.ropeTheta());
        RopeScaling.HfForm form = scaling.hfForm(config.ropeGeometry());
        if (form instanceof RopeScaling.HfForm.NotExportable no) {
            throw new LongctxException(no.reason());
        }
        if (form instanceof RopeScaling.HfForm.Unscaled) {
            out.put("max_position_embeddings", config.maxPositions());
            out.putNull("rope_scaling");
        } else {
            out.put("max_position_embeddings", maxPositions(config, scaling, original));
            if (form instanceof RopeScaling.HfForm.AsRopeTheta theta) {
                out.put("rope_theta", theta.ropeTheta());
                out.putNull("rope_scaling");
            } else if (form instanceof RopeScaling.HfForm.AsRopeScaling rope) {
                ObjectNode ropeScaling = MAPPER.valueToTree(rope.ropeScaling());
                if (scaling instanceof io.longctx.rope.YarnScaling yarn && yarn.attentionFactor() != null) {
                    // vLLM does not read HF's attention_factor; it reads attn_factor, a multiplier on 0.1 ln s + 1
                    ropeScaling.put("attn_factor", yarn.attentionFactor() / RopeScaling.yarnMscale(yarn.factor(), 1));
                }
                out.set("rope_scaling", ropeScaling);
                // longrope reads it there; for linear it records the context the factor extends (HF's linear has no
                // key of its own for it), so a re-export does not multiply the factor in again
                if (scaling.ropeType().equals("longrope") || scaling.ropeType().equals("linear")) {
                    out.put("original_max_position_embeddings", original);
                }
            }
        }
        // training attends over the whole context: a base's sliding window (Mistral's 4096) would make engines
        // serve something else, so it spans the exported context, as YaRN's released Mistral models do
        if (out.hasNonNull("sliding_window")) {
            out.put("sliding_window", out.path("max_position_embeddings").asLong());
        }
        return out;
    }

    /** The config.json layouts transformers reads: v4's rope_scaling + rope_theta, v5's rope_parameters. */
    public enum Format {
        V4, V5
    }

    /**
     * A v4 config in the requested layout. v5 keeps the RoPE settings in one {@code rope_parameters} object: the
     * scaling keys with {@code rope_type} ("default" when unscaled) and {@code rope_theta} inside.
     */
    public static ObjectNode inFormat(ObjectNode v4, Format format) {
        ObjectNode out = v4.deepCopy();
        if (format == Format.V4) {
            return out;
        }
        ObjectNode parameters = MAPPER.createObjectNode();
        JsonNode scaling = out.remove("rope_scaling");
        if (scaling != null && scaling.isObject()) {
            parameters.setAll((ObjectNode) scaling);
        } else {
            parameters.put("rope_type", "default");
        }
        JsonNode theta = out.remove("rope_theta");
        parameters.set("rope_theta", theta == null ? MAPPER.getNodeFactory().numberNode(10000.0) : theta);
        out.set("rope_parameters", parameters);
        return out;
    }
}
