package io.longctx.lora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.data.pack.PackedSequence;
import io.longctx.engine.SdpaAttention;
import io.longctx.engine.Tensors;
import io.longctx.model.LlamaModel;
import io.longctx.model.LlamaWeights;
import io.longctx.model.ModelConfig;
import io.longctx.safetensors.SafetensorsFile;
import io.longctx.testing.CliRun;
import io.longctx.testing.TinyModels;
import io.longctx.testing.TinyRuns;
import io.longctx.train.Checkpoints;
import io.longctx.train.StepRunner;
import io.longctx.train.Trainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** LoRA adapters: the start equals the base, gradients are the full model's pushed through, checkpoints and exports. */
class LoraTest {
    private static final LoraConfig LORA = new LoraConfig(4, 8, List.of("q_proj", "v_proj", "o_proj", "down_proj"),
            LoraConfig.DEFAULT_EXTRA);

    @TempDir
    Path tmp;

    private Path base() throws Exception {
        return TinyModels.write(tmp.resolve("base"), TinyModels.llamaConfig().put("vocab_size", 259), 5);
    }

    private static float[] logits(NDManager manager, LlamaWeights weights, SdpaAttention sdpa, int[] ids) {
        return new LlamaModel(weights, sdpa).logits(manager, Tensors.tokenRow(manager, ids, 0, ids.length), null)
                .toFloatArray();
    }

    @Test
    void atInitialisation_theLoraModelEqualsTheBaseExactly() throws Exception {
        Path base = base();
        ModelConfig config = ModelConfig.load(base);
        int[] ids = {1, 40, 90, 100, 33, 70, 71, 72, 5, 200};
        try (NDManager manager = NDManager.newBaseManager(); SdpaAttention sdpa = SdpaAttention.create()) {
            LlamaWeights plain = LlamaWeights.load(base, config, manager);
            LlamaWeights adapted = LoraWeights.load(base, config, LORA, 7, null, manager);
            assertEquals(4 * 2 * 2, adapted.tensors().size() - plain.tensors().size(), "A and B per target and layer");
            assertArrayEquals(logits(manager, plain, sdpa, ids), logits(manager, adapted, sdpa, ids), 0f);
        }
    }

    @Test
    void loraGradients_areTheFullModelsGradientsPushedThroughTheAdapter() throws Exception {
        Path base = base();
        ModelConfig config = ModelConfig.load(base);
        String module = "model.layers.1.self_attn.q_proj";
        List<PackedSequence> batch = List.of(new PackedSequence(randomTokens(3, 40), 40, new int[] {0}));
        try (NDManager manager = NDManager.newBaseManager(); SdpaAttention sdpa = SdpaAttention.create()) {
            LlamaWeights adapted = LoraWeights.load(base, config, LORA, 7, null, manager);
            // B = 0 would make dL/dA zero: give B random values first
            Map<String, NDArray> tensors = new LinkedHashMap<>(adapted.tensors());
            Random random = new Random(9);
            tensors.replaceAll((name, t) -> name.endsWith("lora_B.weight") ? Tensors.fromFloats(manager,
                    gaussians(random, (int) t.size(), 0.3), t.getShape()) : t);
            Map<String, NDArray> adapters = new LinkedHashMap<>();
            Map<String, NDArray> baseOnly = new LinkedHashMap<>();
            tensors.forEach((n, t) -> (LlamaWeights.isAdapter(n) ? adapters : baseOnly).put(n, t));
            LlamaWeights withB = LlamaWeights.of(config, manager, baseOnly).withAdapters(adapters, LORA.scale());
            NDArray a = withB.get(module + ".lora_A.weight");
            NDArray b = withB.get(module + ".lora_B.weight");
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            new StepRunner(new LlamaModel(withB, sdpa), 0, false).forwardBackward(manager, batch, 0.05);
            float[] gradA = a.getGradient().toFloatArray();
            float[] gradB = b.getGradient().toFloatArray();

            // the full model at the merged weight W' = W + s B A, and its gradient G = dL/dW'
            Map<String, NDArray> merged = new LinkedHashMap<>(baseOnly);
            NDArray w = baseOnly.get(module + ".weight");
            NDArray wMerged = w.add(b.matMul(a).mul(LORA.scale())).duplicate();
            Map<String, NDArray> otherAdapters = new LinkedHashMap<>(adapters);
            otherAdapters.remove(module + ".lora_A.weight");
            otherAdapters.remove(module + ".lora_B.weight");
            merged.put(module + ".weight", wMerged);
            wMerged.setRequiresGradient(true);
            LlamaWeights full = LlamaWeights.of(config, manager, merged).withAdapters(otherAdapters, LORA.scale());
            new StepRunner(new LlamaModel(full, sdpa), 0, false).forwardBackward(manager, batch, 0.05);
            float[] g = wMerged.getGradient().toFloatArray();                       // (out, in)
            float[] av = a.toFloatArray();                                           // (r, in)
            float[] bv = b.toFloatArray();                                           // (out, r)
            int r = LORA.rank();
            int out = (int) w.getShape().get(0);
            int in = (int) w.getShape().get(1);
            double s = LORA.scale();
            // dL/dA = s B^T G ; dL/dB = s G A^T
            float[] expectedA = new float[r * in];
            float[] expectedB = new float[out * r];
            for (int k = 0; k < r; k++) {
                for (int j = 0; j < in; j++) {
                    double sum = 0;
                    for (int i = 0; i < out; i++) {
                        sum += bv[i * r + k] * g[i * in + j];
                    }
                    expectedA[k * in + j] = (float) (s * sum);
                }
            }
            for (int i = 0; i < out; i++) {
                for (int k = 0; k < r; k++) {
                    double sum = 0;
                    for (int j = 0; j < in; j++) {
                        sum += g[i * in + j] * av[k * in + j];
                    }
                    expectedB[i * r + k] = (float) (s * sum);
                }
            }
            assertClose(expectedA, gradA, "dL/dA");
            assertClose(expectedB, gradB, "dL/dB");
        }
    }

    private static void assertClose(float[] expected, float[] actual, String what) {
        double max = 0;
        for (float v : expected) {
            max = Math.max(max, Math.abs(v));
        }
        assertTrue(max > 1e-6, what + " is not trivially zero");
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 1e-4 * max, what + " element " + i);
        }
    }

    private static int[] randomTokens(long seed, int n) {
        Random random = new Random(seed);
        int[] tokens = new int[n];
        for (int i = 0; i < n; i++) {
            tokens[i] = 3 + random.nextInt(250);
        }
        return tokens;
    }

    private static float[] gaussians(Random random, int n, double std) {
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = (float) (random.nextGaussian() * std);
        }
        return values;
    }

    private Path loraRecipe(int steps) throws Exception {
        Path base = base();
        TinyRuns.corpus(tmp);
        String recipe = TinyRuns.recipe(tmp, steps, """
                lora:
                  rank: 4
                  alpha: 8
                  targets: [q_proj, k_proj, v_proj, o_proj]
                """);
        int from = recipe.indexOf("model:");
        int to = recipe.indexOf("data:");
        recipe = recipe.substring(0, from) + "model:\n  path: " + base + "\n" + recipe.substring(to);
        Path file = tmp.resolve("lora.yaml");
        Files.writeString(file, recipe);
        return file;
    }

    @Test
    void aLoraRun_checkpointsOnlyWhatTrains_exportsMergedAndPeft_andRefusesAnotherBase() throws Exception {
        Path recipe = loraRecipe(2);
        assertEquals(0, new Trainer(TinyRuns.load(recipe), line -> { }).run(false));
        Path checkpoint = new Checkpoints(tmp.resolve("run")).list().get(0);
        assertTrue(Checkpoints.isLora(checkpoint));
        assertFalse(Files.exists(checkpoint.resolve(Checkpoints.MODEL)), "no copy of the frozen base");
        ModelConfig config = TinyRuns.load(recipe).architecture();
        try (SafetensorsFile adapter = SafetensorsFile.open(checkpoint.resolve(Checkpoints.ADAPTER))) {
            long adapters = adapter.tensors().keySet().stream().filter(LlamaWeights::isAdapter).count();
            assertEquals(2 * 4 * 2, adapters);
            assertTrue(adapter.tensors().containsKey("model.embed_tokens.weight"), "extra_trainable default");
            assertTrue(adapter.tensors().containsKey("model.layers.0.input_layernorm.weight"));
            assertFalse(adapter.tensors().containsKey("model.layers.0.mlp.up_proj.weight"), "frozen: not stored");
        }
        JsonNode manifest = new ObjectMapper().readTree(checkpoint.resolve(Checkpoints.MANIFEST).toFile());
        assertEquals(64, manifest.path("base").path("sha256").path("model.safetensors").asText().length());

        // merged export scores equal the in-memory LoRA model's
        Path merged = tmp.resolve("merged");
        CliRun export = CliRun.of("export", tmp.resolve("run").toString(), merged.toString());
        assertEquals(0, export.exitCode(), export.err());
        int[] ids = {1, 40, 90, 100, 33, 70, 71, 72, 5, 200, 120, 3};
        try (NDManager manager = NDManager.newBaseManager(); SdpaAttention sdpa = SdpaAttention.create()) {
            LlamaWeights inMemory = LoraWeights.load(tmp.resolve("base"), config, LoraExport_lora(checkpoint), 0,
                    checkpoint.resolve(Checkpoints.ADAPTER), manager);
            LlamaWeights reloaded = LlamaWeights.load(merged, ModelConfig.load(merged), manager);
            float[] expected = logits(manager, inMemory, sdpa, ids);
            float[] actual = logits(manager, reloaded, sdpa, ids);
            assertArrayEquals(expected, actual, 1e-5f);
            float[] baseLogits = logits(manager, LlamaWeights.load(tmp.resolve("base"), ModelConfig.load(
                    tmp.resolve("base")), manager), sdpa, ids);
            assertNotEquals(baseLogits[5], expected[5], "training moved the model");
        }

        // PEFT adapter directory
        Path peft = tmp.resolve("peft");
        CliRun adapter = CliRun.of("export", tmp.resolve("run").toString(), peft.toString(), "--adapter");
        assertEquals(0, adapter.exitCode(), adapter.err());
        JsonNode adapterConfig = new ObjectMapper().readTree(peft.resolve("adapter_config.json").toFile());
        assertEquals("LORA", adapterConfig.path("peft_type").asText());
        assertEquals(4, adapterConfig.path("r").asInt());
        assertEquals(8.0, adapterConfig.path("lora_alpha").asDouble());
        assertEquals("[\"q_proj\",\"k_proj\",\"v_proj\",\"o_proj\"]", adapterConfig.path("target_modules").toString());
        assertTrue(adapterConfig.path("modules_to_save").toString().contains("embed_tokens"));
        assertTrue(adapterConfig.path("base_model_name_or_path").asText().endsWith("base"));
        try (SafetensorsFile file = SafetensorsFile.open(peft.resolve("adapter_model.safetensors"))) {
            assertTrue(file.tensors().containsKey("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"));
            assertTrue(file.tensors().containsKey("base_model.model.model.embed_tokens.weight"));
        }
        assertTrue(Files.isRegularFile(peft.resolve("config.json")));
        assertTrue(Files.isRegularFile(peft.resolve("tokenizer.json")));

        // a different base under the same path: resume and export both refuse it
        TinyModels.write(tmp.resolve("base"), TinyModels.llamaConfig().put("vocab_size", 259), 6);
        CliRun resume = CliRun.of("train", recipe.toString());
        assertEquals(2, resume.exitCode(), resume.err());
        assertTrue(resume.errorLine().contains("is not the base model"), resume.err());
        CliRun stale = CliRun.of("export", tmp.resolve("run").toString(), tmp.resolve("stale").toString());
        assertEquals(2, stale.exitCode(), stale.err());
        assertTrue(stale.errorLine().contains("model.safetensors sha256"), stale.err());
    }

    private static LoraConfig LoraExport_lora(Path checkpoint) {
        return io.longctx.train.LoraExport.loraConfig(checkpoint);
    }
}
