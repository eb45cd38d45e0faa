package io.longctx.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.longctx.model.ModelConfig;
import io.longctx.safetensors.DType;
import io.longctx.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/** Writes small random HF model directories for tests that must not depend on ../shared. */
public final class TinyModels {
    private TinyModels() {
    }

    /** A llama config: hidden 32, 2 layers, 4 heads over 2 kv heads, vocab 64, context 64. */
    public static ObjectNode llamaConfig() {
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.put("model_type", "llama");
        c.put("hidden_size", 32);
        c.put("intermediate_size", 48);
        c.put("num_hidden_layers", 2);
        c.put("num_attention_heads", 4);
        c.put("num_key_value_heads", 2);
        c.put("vocab_size", 64);
        c.put("max_position_embeddings", 64);
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", 10000.0);
        c.put("tie_word_embeddings", false);
        c.put("bos_token_id", 1);
        c.put("eos_token_id", 2);
        return c;
    }

    /** Random weights for every tensor the config needs, N(0, 0.2) with unit norms. */
    public static Map<String, float[]> randomWeights(ModelConfig config, long seed) {
        Random random = new Random(seed);
        Map<String, float[]> weights = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : config.expectedTensors().entrySet()) {
            long n = 1;
            for (long d : e.getValue()) {
                n *= d;
            }
            float[] values = new float[(int) n];
            boolean norm = e.getKey().endsWith("norm.weight");
            for (int i = 0; i < values.length; i++) {
                values[i] = norm ? 1f + 0.1f * (float) random.nextGaussian() : 0.2f * (float) random.nextGaussian();
            }
            weights.put(e.getKey(), values);
        }
        return weights;
    }

    public static void write(Path dir, ObjectNode configJson, Map<String, float[]> weights, DType dtype)
            throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), configJson.toPrettyString());
        ModelConfig config = ModelConfig.parse(configJson, "test");
        SafetensorsWriter writer = new SafetensorsWriter(dtype);
        for (Map.Entry<String, long[]> e : config.expectedTensors().entrySet()) {
            writer.add(e.getKey(), weights.get(e.getKey()), e.getValue());
        }
        writer.write(dir.resolve("model.safetensors"));
    }

    /** Writes a random model of the given config and returns its directory. */
    public static Path write(Path dir, ObjectNode configJson, long seed) throws IOException {
        ModelConfig config = ModelConfig.parse(configJson, "test");
        write(dir, configJson, randomWeights(config, seed), DType.F32);
        return dir;
    }
}
