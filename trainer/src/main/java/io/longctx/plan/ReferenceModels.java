package io.longctx.plan;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.longctx.model.ModelConfig;
import java.util.LinkedHashMap;
import java.util.Map;

/** The published shapes of the 7B-8B bases users extend, for planning without their weights. */
public final class ReferenceModels {
    private ReferenceModels() {
    }

    public static Map<String, ModelConfig> all() {
        Map<String, ModelConfig> models = new LinkedHashMap<>();
        models.put("Llama-2-7B", config("llama", 4096, 11008, 32, 32, 32, 32000, 4096));
        models.put("Llama-3.1-8B", config("llama", 4096, 14336, 32, 32, 8, 128256, 131072));
        models.put("Mistral-7B", config("mistral", 4096, 14336, 32, 32, 8, 32000, 32768));
        return models;
    }

    private static ModelConfig config(String type, int hidden, int intermediate, int layers, int heads, int kvHeads,
            int vocab, int positions) {
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.put("model_type", type);
        c.put("hidden_size", hidden);
        c.put("intermediate_size", intermediate);
        c.put("num_hidden_layers", layers);
        c.put("num_attention_heads", heads);
        c.put("num_key_value_heads", kvHeads);
        c.put("vocab_size", vocab);
        c.put("max_position_embeddings", positions);
        c.put("tie_word_embeddings", false);
        return ModelConfig.parse(c, "reference " + type);
    }
}
