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
        if (config.bosTokenId() != null) {
            out.put("bos_token_id", config.bosTokenId());
        }
        if (config.eosTokenId() != null) {
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
            return out;
        }
        out.put("max_position_embeddings", Math.round(scaling.factor() * original));
        if (form instanceof RopeScaling.HfForm.AsRopeTheta theta) {
            out.put("rope_theta", theta.ropeTheta());
            out.putNull("rope_scaling");
        } else if (form instanceof RopeScaling.HfForm.AsRopeScaling rope) {
            out.set("rope_scaling", MAPPER.valueToTree(rope.ropeScaling()));
            if (scaling.ropeType().equals("longrope")) {
                out.put("original_max_position_embeddings", original);
            }
        }
        return out;
    }
}
