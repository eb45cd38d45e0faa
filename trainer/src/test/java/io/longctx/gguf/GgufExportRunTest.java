package io.longctx.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longctx.recipe.RecipeException;
import io.longctx.rope.RopeGeometry;
import io.longctx.rope.YarnScaling;
import io.longctx.testing.CliRun;
import io.longctx.testing.TinyRuns;
import io.longctx.train.Trainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** GGUF from a trained run: the recipe asks for it, the run writes it, verify-export checks it with llama.cpp. */
class GgufExportRunTest {
    private static final RopeGeometry LLAMA = new RopeGeometry(128, 10000);

    @TempDir
    Path tmp;

    private Path yarnRecipe(String yarnExtras) throws Exception {
        Path recipe = TinyRuns.writeRecipe(tmp, 3, "");
        Files.writeString(recipe, TinyRuns.recipe(tmp, 3, "rope_scaling: {rope_type: yarn, factor: 4" + yarnExtras
                + "}").replace("seq_len: 64", "seq_len: 256"));
        return recipe;
    }

    @Test
    void runExportsHfAndGguf_andLlamaCppAgreesWithTheCheckpoint() throws Exception {
        Path recipe = yarnRecipe("");
        assertEquals(0, new Trainer(TinyRuns.load(recipe, "output.export=[hf, gguf]"), line -> { }).run(false));
        Path gguf = tmp.resolve("run/export/model.gguf");
        assertTrue(Files.isRegularFile(gguf), "the run wrote " + gguf);
        assertTrue(Files.isRegularFile(tmp.resolve("run/export/hf/config.json")));

        LlamaCppTesting.orSkip();
        Path ids = tmp.resolve("ids.txt");
        Files.writeString(ids, IntStream.range(0, 200).map(i -> 1 + (i * 37) % 250).mapToObj(Integer::toString)
                .collect(Collectors.joining(" ")));
        CliRun verify = CliRun.of("verify-export", gguf.toString(), "--ids", ids.toString(), "--model",
                tmp.resolve("run").toString());
        System.out.println(verify.out());
        assertEquals(0, verify.exitCode(), verify.out() + verify.err());
        assertTrue(verify.out().contains("greedy tokens identical: yes"), verify.out());

        CliRun bf16 = CliRun.of("export", tmp.resolve("run").toString(), tmp.resolve("bf16.gguf").toString(),
                "--format", "gguf", "--dtype", "bf16");
        assertEquals(0, bf16.exitCode(), bf16.err());
        assertTrue(Files.size(tmp.resolve("bf16.gguf")) < Files.size(gguf), "matrices in 2 bytes, not 4");
    }

    @Test
    void recipeAskingForGguf_withWhatLlamaCppCannotRead_isRefusedWhenParsed() throws Exception {
        Path recipe = yarnRecipe(", mscale: 0.707, mscale_all_dim: 0.707");
        RecipeException e = assertThrows(RecipeException.class,
                () -> TinyRuns.load(recipe, "output.export=[hf, gguf]"));
        assertTrue(e.getMessage().contains("output.export") && e.getMessage().contains("rope_scaling.mscale"),
                e.getMessage());
        TinyRuns.load(recipe, "output.export=[hf]"); // HF carries mscale: no complaint

        CliRun badFormat = CliRun.of("train", yarnRecipe("").toString(), "--set", "output.export=[onnx]");
        assertTrue(badFormat.exitCode() != 0);
    }

    @Test
    void llamaCppsLimits_areNamedByKey() {
        assertNull(GgufRope.problem(YarnScaling.of(16, 4096), LLAMA, "llama"));
        assertTrue(GgufRope.problem(new YarnScaling(16, 4096, 16, 2, null, null, null, true, false), LLAMA, "llama")
                .startsWith("rope_scaling.beta_fast:"));
        assertTrue(GgufRope.problem(new YarnScaling(16, 4096, 32, 1, null, null, null, false, false), LLAMA,
                "llama").startsWith("rope_scaling.truncate:"));
        assertTrue(GgufRope.problem(new YarnScaling(16, 4096, 32, 1, null, null, null, true, true), LLAMA, "llama")
                .contains("dynamic_yarn"));
        assertTrue(GgufRope.problem(new io.longctx.rope.DynamicNtkScaling(4, 4096), LLAMA, "llama")
                .startsWith("rope_scaling.rope_type:"));
        assertTrue(GgufRope.problem(new io.longctx.rope.Llama3Scaling(8, 1, 4, 8192), LLAMA, "qwen2")
                .contains("qwen2"));
        GgufRope.Form.Expressed attention = (GgufRope.Form.Expressed) GgufRope.of(new YarnScaling(16, 4096, 32, 1,
                1.0, null, null, true, false), LLAMA, "llama");
        assertEquals(1.0 / (0.1 * Math.log(16) + 1), (Double) attention.scalingKeys().get("attn_factor"), 1e-12,
                "HF's attention_factor a is llama.cpp's attn_factor a / (0.1 ln s + 1)");
    }
}
