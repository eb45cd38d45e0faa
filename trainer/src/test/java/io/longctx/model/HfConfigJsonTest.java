package io.longctx.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.longctx.rope.DynamicNtkScaling;
import io.longctx.rope.LinearScaling;
import io.longctx.rope.YarnScaling;
import org.junit.jupiter.api.Test;

/** What the exported config.json tells engines, per method and model family, on real configs' shapes. */
class HfConfigJsonTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static JsonNode export(String baseJson, java.util.function.UnaryOperator<ModelConfig> scale)
            throws Exception {
        JsonNode base = JSON.readTree(baseJson);
        return HfConfigJson.build(scale.apply(ModelConfig.parse(base, "base")), base);
    }

    @Test
    void mistral_slidingWindowSpansTheExtendedContext() throws Exception {
        JsonNode out = export("""
                {"model_type": "mistral", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
                 "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 32, "rope_theta": 10000.0,
                 "max_position_embeddings": 32768, "sliding_window": 4096}
                """, c -> c.withRopeScaling(YarnScaling.of(8, 8192)));
        assertEquals(65536, out.path("max_position_embeddings").asInt());
        assertEquals(65536, out.path("sliding_window").asInt(), "no 4096-token window over a 64k model");
        assertEquals(8192, out.path("rope_scaling").path("original_max_position_embeddings").asInt());
    }

    @Test
    void llama31_keepsItsContextAndItsListOfEosIds() throws Exception {
        JsonNode out = export("""
                {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
                 "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 128256, "rope_theta": 500000.0,
                 "max_position_embeddings": 131072, "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009],
                 "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                  "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}}
                """, c -> c);
        assertEquals(131072, out.path("max_position_embeddings").asInt(), "not multiplied by 8 again");
        assertTrue(out.path("eos_token_id").isArray(), out.toString());
        assertEquals(3, out.path("eos_token_id").size());
        assertEquals(128009, out.path("eos_token_id").get(2).asInt());
    }

    @Test
    void dynamicNtk_recordsTheOriginalContext() throws Exception {
        JsonNode out = export("""
                {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
                 "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 32, "rope_theta": 10000.0,
                 "max_position_embeddings": 4096}
                """, c -> c.withRopeScaling(new DynamicNtkScaling(4, 4096)));
        assertEquals(4096, out.path("max_position_embeddings").asInt(), "HF reads it as the original for dynamic");
        assertEquals("dynamic", out.path("rope_scaling").path("rope_type").asText());
    }

    private static final String LLAMA2 = """
            {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
             "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 32, "rope_theta": 10000.0,
             "max_position_embeddings": 4096}
            """;

    @Test
    void linear_recordsTheOriginal_soAReExportDoesNotMultiplyAgain() throws Exception {
        JsonNode first = export(LLAMA2, c -> c.withRopeScaling(new LinearScaling(4, 4096)));
        assertEquals(16384, first.path("max_position_embeddings").asInt());
        assertEquals(4096, first.path("original_max_position_embeddings").asInt());
        assertEquals("linear", first.path("rope_scaling").path("rope_type").asText());
        JsonNode again = export(first.toString(), c -> c);
        assertEquals(16384, again.path("max_position_embeddings").asInt(), "re-exported: " + again);
        assertEquals(4.0, again.path("rope_scaling").path("factor").asDouble());
    }

    @Test
    void yarn_keepsFactorTimesOriginalAndTheOriginalKey_throughAReExport() throws Exception {
        JsonNode first = export(LLAMA2, c -> c.withRopeScaling(YarnScaling.of(16, 4096)));
        JsonNode again = export(first.toString(), c -> c);
        for (JsonNode out : new JsonNode[] {first, again}) {
            assertEquals(65536, out.path("max_position_embeddings").asInt(), out.toString());
            assertEquals(4096, out.path("rope_scaling").path("original_max_position_embeddings").asInt());
            assertEquals(16.0, out.path("rope_scaling").path("factor").asDouble());
        }
    }

    @Test
    void v5_putsTheScalingAndThetaInRopeParameters_andReadsBackEqual() throws Exception {
        JsonNode base = JSON.readTree(LLAMA2);
        ModelConfig scaled = ModelConfig.parse(base, "base").withRopeScaling(YarnScaling.of(16, 4096));
        ObjectNode v5 = HfConfigJson.inFormat(HfConfigJson.build(scaled, base), HfConfigJson.Format.V5);
        assertTrue(v5.path("rope_scaling").isMissingNode(), v5.toString());
        assertTrue(v5.path("rope_theta").isMissingNode(), v5.toString());
        JsonNode parameters = v5.path("rope_parameters");
        assertEquals("yarn", parameters.path("rope_type").asText());
        assertEquals(10000.0, parameters.path("rope_theta").asDouble());
        assertEquals(4096, parameters.path("original_max_position_embeddings").asInt());
        assertEquals(scaled.ropeScaling(), ModelConfig.parse(v5, "v5").ropeScaling());

        ObjectNode unscaled = HfConfigJson.inFormat(HfConfigJson.build(ModelConfig.parse(base, "base"), base),
                HfConfigJson.Format.V5);
        assertEquals("default", unscaled.path("rope_parameters").path("rope_type").asText());
    }

    @Test
    void yarnAttentionFactor_isAlsoWrittenInVllmsForm_andReadsBackEqual() throws Exception {
        YarnScaling yarn = new YarnScaling(16, 4096, 32, 1, 1.3, null, null, true, false);
        JsonNode out = export(LLAMA2, c -> c.withRopeScaling(yarn));
        assertEquals(1.3, out.path("rope_scaling").path("attention_factor").asDouble());
        assertEquals(1.3 / (0.1 * Math.log(16) + 1), out.path("rope_scaling").path("attn_factor").asDouble(), 1e-12);
        assertEquals(yarn, ModelConfig.parse(out, "exported").ropeScaling());
    }
}
