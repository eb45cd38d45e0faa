package io.longctx.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.SharedAssets;
import io.longctx.engine.PlainAttention;
import io.longctx.engine.Tensors;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The decoder against llama2.c's own C forward pass on a real pretrained checkpoint. */
class Stories260KLogitsTest {

    @Test
    void logits_matchLlama2cReference_within1e4() throws Exception {
        Path dir = SharedAssets.stories260K();
        JsonNode ref = new ObjectMapper().readTree(dir.resolve("reference-logits.json").toFile());
        int[] ids = SharedAssets.stories260KReferenceIds();
        ModelConfig config = ModelConfig.load(dir);
        try (NDManager manager = NDManager.newBaseManager();
                LlamaWeights weights = LlamaWeights.load(dir, config, manager)) {
            LlamaModel model = new LlamaModel(weights, new PlainAttention());
            NDArray logits = model.logits(manager, Tensors.tokenRow(manager, ids, 0, ids.length), null);
            int vocab = config.vocabSize();
            float[] all = logits.toFloatArray();                               // (1, 64, 512)
            for (JsonNode position : ref.get("top5_positions_0_to_7")) {
                int p = position.get("position").asInt();
                for (JsonNode pair : position.get("top5")) {
                    int id = pair.get(0).asInt();
                    assertEquals(pair.get(1).asDouble(), all[p * vocab + id], 1e-4,
                            "position " + p + " token " + id);
                }
            }
            JsonNode values = ref.get("position_63_logits");
            int p = 63;
            for (int id = 0; id < vocab; id++) {
                assertEquals(values.get(id).asDouble(), all[p * vocab + id], 1e-4, "position " + p + " token " + id);
            }
        }
    }
}
