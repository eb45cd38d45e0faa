package io.longctx.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longctx.rope.YarnScaling;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The recipes in configs/ parse and say what their comments say. */
class ShippedRecipesTest {
    @TempDir
    Path tmp;

    private static Path configs() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.isDirectory(dir.resolve("configs")) && Files.isRegularFile(dir.resolve("pom.xml"))
                    && Files.isDirectory(dir.resolve("trainer"))) {
                return dir.resolve("configs");
            }
        }
        throw new AssertionError("configs/ not found above " + Path.of("").toAbsolutePath());
    }

    /**
     * A model directory with a config.json, a tokenizer.json and an empty weights file (recipes read the
     * architecture and check that safetensors weights exist; they do not read the weights).
     */
    private Path modelDir(String name, String config) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve(name));
        Files.writeString(dir.resolve("config.json"), config);
        Files.writeString(dir.resolve("model.safetensors"), "");
        io.longctx.data.tokenize.ByteLevelTokenizer.write(dir);
        return dir;
    }

    @Test
    void demoPretrain_trainsAtTheShortContextWithoutScaling() {
        Recipe r = Recipe.load(configs().resolve("demo-pretrain.yaml"), List.of());
        assertTrue(r.model().isRandom());
        assertEquals(256, r.data().packing().seqLen());
        assertEquals(256, r.architecture().maxPositions());
        assertEquals(null, r.ropeScaling());
    }

    @Test
    void demoYarn_extends8xWithActivationCheckpointing() throws Exception {
        Path base = modelDir("base", """
                {"model_type": "llama", "hidden_size": 192, "intermediate_size": 512, "num_hidden_layers": 4,
                 "num_attention_heads": 6, "num_key_value_heads": 2, "vocab_size": 259,
                 "max_position_embeddings": 256, "tie_word_embeddings": true}
                """);
        Recipe r = Recipe.load(configs().resolve("demo-yarn.yaml"), List.of("model.path=" + base));
        YarnScaling yarn = (YarnScaling) r.ropeScaling();
        assertEquals(8.0, yarn.factor());
        assertEquals(256, yarn.originalContext());
        assertEquals(2048, r.data().packing().seqLen());
        assertEquals(1, r.run().checkpointLayers());
    }

    @Test
    void llama2Recipe_mirrorsTheYarnPaper() throws Exception {
        Path llama = modelDir("llama2", """
                {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
                 "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 32000,
                 "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "rope_theta": 10000.0}
                """);
        Recipe r = Recipe.load(configs().resolve("llama2-7b-yarn-64k.yaml"), List.of("model.path=" + llama));
        assertEquals(16.0, r.ropeScaling().factor());
        assertEquals(65536, r.data().packing().seqLen());
        assertEquals(400, r.train().steps());
        assertEquals(64, r.train().sequencesPerStep());
        assertEquals(2e-5, r.train().lr());
        assertEquals(20, r.train().warmupSteps());
        assertEquals(TrainConfig.Schedule.LINEAR, r.train().schedule());
        assertEquals(0.95, r.train().beta2());
        assertEquals(0.0, r.train().weightDecay());
        assertEquals(RunConfig.Device.GPU, r.run().device());
        assertPlanAsStated(r, "llama2-7b-yarn-64k.yaml", false, true);
    }

    /** The recipe's comment carries the planner's device peak, and the recipe fits the hardware it names. */
    private static void assertPlanAsStated(Recipe r, String file, boolean fits80, boolean fits141) throws Exception {
        io.longctx.plan.MemoryPlan plan = io.longctx.plan.MemoryPlanner.plan(io.longctx.plan.PlanInput.of(r, 1),
                Long.MAX_VALUE);
        String peak = String.format(java.util.Locale.ROOT, "%.1f GiB", plan.devicePeak() / 1073741824.0);
        String text = Files.readString(configs().resolve(file));
        assertTrue(text.contains(peak), file + " states the planner's device peak " + peak);
        assertEquals(fits80, plan.devicePeak() <= 80L << 30, file + " on 80 GiB: " + peak);
        assertEquals(fits141, plan.devicePeak() <= 141L << 30, file + " on 141 GiB: " + peak);
    }

    @Test
    void llama3LoraRecipe_fitsOne80GbGpu() throws Exception {
        Path llama3 = modelDir("llama3", """
                {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
                 "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
                 "max_position_embeddings": 8192, "rms_norm_eps": 1e-5, "rope_theta": 500000.0}
                """);
        Recipe r = Recipe.load(configs().resolve("llama3-8b-yarn-64k-lora.yaml"), List.of("model.path=" + llama3));
        assertEquals(8, r.lora().rank());
        assertEquals(List.of("model.embed_tokens.weight", "*norm*"), r.lora().extraTrainable());
        assertEquals(io.longctx.engine.Precision.BF16, r.run().precision());
        assertEquals(65536, r.data().packing().seqLen());
        assertPlanAsStated(r, "llama3-8b-yarn-64k-lora.yaml", true, true);
    }

    @Test
    void llama2From64kRecipe_continuesFromTheCheckpointAtS32() throws Exception {
        Path checkpoint = modelDir("step-000400", """
                {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
                 "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 32000,
                 "max_position_embeddings": 65536, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
                 "rope_scaling": {"rope_type": "yarn", "factor": 16.0, "original_max_position_embeddings": 4096}}
                """);
        Files.writeString(checkpoint.resolve(Checkpoints.MANIFEST), "{}");
        Files.writeString(checkpoint.resolve("state.json"), "{}");
        io.longctx.data.tokenize.ByteLevelTokenizer.write(checkpoint.resolve("tokenizer"));
        Recipe r = Recipe.load(configs().resolve("llama2-7b-yarn-128k-from-64k.yaml"),
                List.of("model.path=" + checkpoint));
        assertTrue(r.model().isCheckpoint());
        assertEquals(32.0, r.ropeScaling().factor());
        assertEquals(4096, ((YarnScaling) r.ropeScaling()).originalContext());
        assertEquals(65536, r.data().packing().seqLen());
        assertEquals(200, r.train().steps());
        assertEquals(checkpoint.resolve("tokenizer/tokenizer.json"), r.data().tokenizer().path());
        assertPlanAsStated(r, "llama2-7b-yarn-128k-from-64k.yaml", false, true);
    }

    @Test
    void mistralRecipe_mirrorsTheYarnPaper() throws Exception {
        Path mistral = modelDir("mistral", """
                {"model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
                 "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 32000,
                 "max_position_embeddings": 32768, "rope_theta": 10000.0, "sliding_window": 4096}
                """);
        Recipe r = Recipe.load(configs().resolve("mistral-7b-yarn-64k.yaml"), List.of("model.path=" + mistral));
        assertEquals(8.0, r.ropeScaling().factor());
        assertEquals(8192, ((YarnScaling) r.ropeScaling()).originalContext());
        assertEquals(1000, r.train().steps());
        assertEquals(1e-6, r.train().lr());
        assertEquals(TrainConfig.Schedule.CONSTANT, r.train().schedule());
        assertPlanAsStated(r, "mistral-7b-yarn-64k.yaml", true, true);
    }
}
