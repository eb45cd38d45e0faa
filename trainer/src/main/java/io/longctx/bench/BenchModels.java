package io.longctx.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.longctx.LongctxException;
import io.longctx.model.ModelConfig;

/** The reference models of the benchmark, and the PaLM FLOP count of a training step. */
public final class BenchModels {
    private BenchModels() {
    }

    public static ModelConfig config(String name, int maxPositions) {
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.put("model_type", "llama");
        switch (name) {
            case "small" -> {
                c.put("hidden_size", 512);
                c.put("intermediate_size", 1376);
                c.put("num_hidden_layers", 8);
                c.put("num_attention_heads", 8);
                c.put("vocab_size", 32000);
            }
            case "1b" -> {                      // TinyLlama-1.1B's shape
                c.put("hidden_size", 2048);
                c.put("intermediate_size", 5632);
                c.put("num_hidden_layers", 22);
                c.put("num_attention_heads", 32);
                c.put("num_key_value_heads", 4);
                c.put("vocab_size", 32000);
            }
            case "tiny" -> {
                c.put("hidden_size", 128);
                c.put("intermediate_size", 344);
                c.put("num_hidden_layers", 4);
                c.put("num_attention_heads", 4);
                c.put("vocab_size", 512);
            }
            default -> throw new LongctxException("--config must be tiny, small or 1b, got '" + name + "'");
        }
        c.put("max_position_embeddings", maxPositions);
        c.put("tie_word_embeddings", false);
        return ModelConfig.parse(c, "bench " + name);
    }

    /** Parameters that do matrix work per token: everything except the input embedding table. */
    public static long computeParameters(ModelConfig config) {
        return config.parameterCount() - (long) config.vocabSize() * config.hiddenSize();
    }

    /**
     * Model FLOPs of one training step (forward and backward) by the PaLM formula: 6 N T + 12 L H S T, with N the
     * parameters doing matrix work, T the tokens, L the layers, H the hidden size, S the sequence length. Recomputation
     * under activation checkpointing is not counted, as is conventional for MFU.
     */
    public static double stepFlops(ModelConfig config, int length, int tokens) {
        return 6.0 * computeParameters(config) * tokens
                + 12.0 * config.numLayers() * config.hiddenSize() * (double) length * tokens;
    }
}
