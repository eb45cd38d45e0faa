package io.longctx.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.SharedAssets;
import io.longctx.engine.SdpaAttention;
import io.longctx.engine.Tensors;
import io.longctx.eval.Generator;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Greedy decoding with the KV cache against llama2.c's own greedy continuation. */
class Stories260KGenerationTest {

    @Test
    void greedyFromBos_reproducesLlama2cContinuation() throws Exception {
        Path dir = SharedAssets.stories260K();
        JsonNode ref = new ObjectMapper().readTree(dir.resolve("greedy-from-bos.json").toFile());
        int[] expected = new int[ref.get("generated_ids_first_32").size()];
        for (int i = 0; i < expected.length; i++) {
            expected[i] = ref.get("generated_ids_first_32").get(i).asInt();
        }
        try (NDManager manager = NDManager.newBaseManager();
                LlamaWeights weights = LlamaWeights.load(dir, ModelConfig.load(dir), manager);
                SdpaAttention sdpa = SdpaAttention.create()) {
            int[] generated = new Generator(new LlamaModel(weights, sdpa), manager)
                    .generate(new int[] {1}, expected.length, 0.0, 0, -1);
            assertArrayEquals(expected, generated);
        }
    }

    @Test
    void cachedDecoding_matchesFullForwardLogits() {
        Path dir = SharedAssets.stories260K();
        int[] ids = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376};
        try (NDManager manager = NDManager.newBaseManager();
                LlamaWeights weights = LlamaWeights.load(dir, ModelConfig.load(dir), manager);
                SdpaAttention sdpa = SdpaAttention.create()) {
            LlamaModel model = new LlamaModel(weights, sdpa);
            float[] full = model.logits(manager, Tensors.tokenRow(manager, ids, 0, ids.length), null)
                    .toFloatArray();
            try (KvCache cache = new KvCache(manager, model.config().numLayers())) {
                // a 4-token prefill, then one token at a time
                NDArray first = model.logits(manager, Tensors.tokenRow(manager, ids, 0, 4), cache);
                float[] stepwise = new float[full.length];
                System.arraycopy(first.toFloatArray(), 0, stepwise, 0, 4 * 512);
                for (int t = 4; t < ids.length; t++) {
                    NDArray step = model.logits(manager, Tensors.tokenRow(manager, ids, t, t + 1), cache);
                    System.arraycopy(step.get(new NDIndex("0, 0")).toFloatArray(), 0, stepwise, t * 512, 512);
                }
                assertArrayEquals(full, stepwise, 1e-4f);
            }
        }
    }
}
