package io.longctx.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.engine.SdpaAttention;
import io.longctx.engine.Tensors;
import io.longctx.model.LlamaModel;
import io.longctx.model.LlamaWeights;
import io.longctx.model.ModelConfig;
import io.longctx.testing.CliRun;
import io.longctx.testing.TinyRuns;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Whole training runs of a tiny model, in process. */
class TrainingRunTest {
    @TempDir
    Path tmp;

    private static List<Double> losses(Path runDir) throws Exception {
        List<Double> losses = new ArrayList<>();
        for (String line : Files.readAllLines(runDir.resolve("metrics.jsonl"))) {
            losses.add(new ObjectMapper().readTree(line).path("loss").asDouble());
        }
        return losses;
    }

    @Test
    void lossGoesDownOnText() throws Exception {
        Path recipe = TinyRuns.writeRecipe(tmp, 30, "eval: {every: 15, lengths: [16, 64], batches: 2}");
        List<String> log = new ArrayList<>();
        int code = new Trainer(TinyRuns.load(recipe, "train.lr=1e-2"), log::add).run(false);
        assertEquals(Trainer.EXIT_DONE, code, String.join("\n", log));
        List<Double> losses = losses(tmp.resolve("run"));
        assertEquals(30, losses.size());
        double first = losses.get(0);
        double last = (losses.get(27) + losses.get(28) + losses.get(29)) / 3;
        assertTrue(first > 5.0, "starts near ln(259) = 5.56: " + first);
        double unigram = unigramEntropy(tmp.resolve("docs"));
        // from uniform (ln 259) down to the byte distribution of the text within a few dozen steps
        assertTrue(last < unigram + 0.15, "reaches the corpus's byte unigram entropy " + unigram + " nats: "
                + losses);
        List<String> evalRows = Files.readAllLines(tmp.resolve("run/eval.csv"));
        assertEquals("step,val_loss,val_ppl,ppl_16,ppl_64", evalRows.get(0));
        assertEquals(3, evalRows.size(), "header and evaluations at steps 15 and 30");
        assertTrue(Files.readString(tmp.resolve("run/metrics.csv")).startsWith("step,loss,lr,grad_norm"));
        assertTrue(log.stream().anyMatch(l -> l.startsWith("step 30/30 loss")), String.join("\n", log));
        assertTrue(Files.isRegularFile(tmp.resolve("run/recipe.resolved.yaml")));
    }

    @Test
    void profileStepWritesATraceAndASelfTimeTable() throws Exception {
        Path recipe = TinyRuns.writeRecipe(tmp, 3, "");
        CliRun run = CliRun.of("train", recipe.toString(), "--profile-step", "2");
        assertEquals(Trainer.EXIT_DONE, run.exitCode(), run.err());
        Path trace = tmp.resolve("run/profile-step-2.json");
        assertTrue(new ObjectMapper().readTree(trace.toFile()).isArray(), "a Chrome trace (JSON array of events)");
        String table = Files.readString(tmp.resolve("run/profile-step-2.txt"));
        assertTrue(table.contains("matmul") && table.contains("aten::mm"), table);
        assertTrue(run.err().contains("profile of step 2"), run.err());
        assertEquals(3, losses(tmp.resolve("run")).size(), "the profiled step is a normal step of the run");
        CliRun bad = CliRun.of("train", recipe.toString(), "--profile-step", "-1");
        assertEquals(2, bad.exitCode());
        assertTrue(bad.err().contains("--profile-step"), bad.err());
    }

    /** Entropy in nats of the byte frequencies of the corpus: the best loss without context. */
    private static double unigramEntropy(Path docs) throws Exception {
        long[] counts = new long[256];
        long total = 0;
        try (var files = Files.list(docs)) {
            for (Path file : files.toList()) {
                for (byte b : Files.readAllBytes(file)) {
                    counts[b & 0xff]++;
                    total++;
                }
            }
        }
        double h = 0;
        for (long c : counts) {
            if (c > 0) {
                double p = (double) c / total;
                h -= p * Math.log(p);
            }
        }
        return h;
    }

    @Test
    void corruptNewestCheckpoint_isReportedAndThePreviousUsed() throws Exception {
        Path recipe = TinyRuns.writeRecipe(tmp, 4, "");
        // a constant schedule does not depend on the total step count, so resuming with more steps is allowed
        assertEquals(0, new Trainer(TinyRuns.load(recipe, "train.schedule=constant"), line -> { }).run(false));
        Checkpoints checkpoints = new Checkpoints(tmp.resolve("run"));
        assertEquals(List.of("step-000004", "step-000002"),
                checkpoints.list().stream().map(p -> p.getFileName().toString()).toList());
        Path newest = checkpoints.list().get(0);
        byte[] model = Files.readAllBytes(newest.resolve("model.safetensors"));
        Files.write(newest.resolve("model.safetensors"), java.util.Arrays.copyOf(model, model.length - 100));
        List<String> log = new ArrayList<>();
        Recipe longer = TinyRuns.load(recipe, "train.schedule=constant", "train.steps=6");
        assertEquals(0, new Trainer(longer, log::add).run(false));
        String all = String.join("\n", log);
        assertTrue(all.contains("step-000004 is unusable (model.safetensors has"), all);
        assertTrue(all.contains("resuming from") && all.contains("step-000002 at step 2"), all);
        assertTrue(all.contains("step 3/6"), all);
        assertTrue(all.contains("resume: applying train.steps: 4 -> 6"), all);
    }

    @Test
    void nonFiniteLoss_skipsStepsThenStopsWithACheckpoint() throws Exception {
        Path recipe = TinyRuns.writeRecipe(tmp, 20, "");
        Recipe exploding = TinyRuns.load(recipe, "train.lr=1e30", "train.warmup_steps=0", "train.clip_norm=0",
                "train.max_bad_steps=2", "train.schedule=constant");
        List<String> log = new ArrayList<>();
        int code = new Trainer(exploding, log::add).run(false);
        String all = String.join("\n", log);
        assertEquals(Trainer.EXIT_DIVERGED, code, all);
        assertTrue(all.contains("step skipped (1 in a row, limit 2)"), all);
        assertTrue(all.contains("stopping: 2 non-finite steps in a row"), all);
        assertFalse(new Checkpoints(tmp.resolve("run")).list().isEmpty());
    }

    @Test
    void passkeyDuringTraining_isLoggedWithPerplexity_andCharted() throws Exception {
        Path recipe = TinyRuns.writeRecipe(tmp, 4, "eval: {every: 2, lengths: [64], batches: 1, "
                + "passkey: {lengths: [260, 300], trials: 3}}");
        List<String> lines = new ArrayList<>();
        assertEquals(0, new io.longctx.train.Trainer(TinyRuns.load(recipe), lines::add).run(false));
        List<String> rows = Files.readAllLines(tmp.resolve("run/eval.csv"));
        assertEquals("step,val_loss,val_ppl,ppl_64,passkey_260,passkey_300", rows.get(0));
        assertEquals(3, rows.size(), "evaluations at steps 2 and 4: " + rows);
        for (String row : rows.subList(1, 3)) {
            String[] cells = row.split(",");
            for (int i = 4; i < 6; i++) {
                double accuracy = Double.parseDouble(cells[i]);
                assertTrue(accuracy >= 0 && accuracy <= 1, row);
            }
        }
        assertTrue(String.join("\n", lines).contains("passkey@300"), String.join("\n", lines));
        assertTrue(Files.size(tmp.resolve("run/eval.png")) > 1000);

        Path tooShort = tmp.resolve("short.yaml");
        Files.writeString(tooShort, Files.readString(recipe).replace("lengths: [260, 300]", "lengths: [100]"));
        CliRun refused = CliRun.of("train", tooShort.toString(), "--restart");
        assertEquals(2, refused.exitCode(), refused.err());
        assertTrue(refused.err().contains("eval.passkey.lengths") && refused.err().contains("got 100"),
                refused.err());
        assertTrue(Files.isDirectory(tmp.resolve("run/checkpoints")), "refused when read: the run is untouched");
        // without the task line the prompt needs 106 tokens with this tokenizer, so 120 holds it
        Path noTask = tmp.resolve("no-task.yaml");
        Files.writeString(noTask, Files.readString(recipe).replace("lengths: [260, 300], trials: 3",
                "lengths: [120], trials: 3, task: false"));
        assertFalse(TinyRuns.load(noTask).eval().passkey().task());
    }

    @Test
    void exportReloadAndScore_givesTheTrainedModelsLogits() throws Exception {
        Path recipe = TinyRuns.writeRecipe(tmp, 3, "");
        Files.writeString(recipe, TinyRuns.recipe(tmp, 3, "rope_scaling: {rope_type: yarn, factor: 4}")
                .replace("seq_len: 64", "seq_len: 256"));
        assertEquals(0, new Trainer(TinyRuns.load(recipe), line -> { }).run(false));
        Path out = tmp.resolve("exported");
        CliRun export = CliRun.of("export", tmp.resolve("run").toString(), out.toString());
        assertEquals(0, export.exitCode(), export.err());
        JsonNode config = new ObjectMapper().readTree(out.resolve("config.json").toFile());
        assertEquals(256, config.path("max_position_embeddings").asInt(), "factor x original context");
        assertEquals("yarn", config.path("rope_scaling").path("rope_type").asText());
        assertEquals(4.0, config.path("rope_scaling").path("factor").asDouble());
        assertEquals(64, config.path("rope_scaling").path("original_max_position_embeddings").asInt());
        assertTrue(Files.isRegularFile(out.resolve("tokenizer.json")));

        int[] ids = {1, 40, 90, 100, 33, 70, 71, 72, 5, 200, 120, 3};
        Path checkpoint = new Checkpoints(tmp.resolve("run")).list().get(0);
        ModelConfig trained = TinyRuns.load(recipe).architecture();
        try (NDManager manager = NDManager.newBaseManager(); SdpaAttention sdpa = SdpaAttention.create();
                LlamaWeights inMemory = LlamaWeights.load(checkpoint, trained, manager);
                LlamaWeights reloaded = LlamaWeights.load(out, ModelConfig.load(out), manager)) {
            float[] expected = new LlamaModel(inMemory, sdpa).logits(manager,
                    Tensors.tokenRow(manager, ids, 0, ids.length), null).toFloatArray();
            float[] actual = new LlamaModel(reloaded, sdpa).logits(manager,
                    Tensors.tokenRow(manager, ids, 0, ids.length), null).toFloatArray();
            assertArrayEquals(expected, actual, 1e-6f);
        }
        CliRun bf16 = CliRun.of("export", tmp.resolve("run").toString(), tmp.resolve("bf16").toString(), "--dtype",
                "bf16", "--shard-size", "32KB");
        assertEquals(0, bf16.exitCode(), bf16.err());
        assertTrue(Files.isRegularFile(tmp.resolve("bf16/model.safetensors.index.json")), "sharded above 32 KiB");
        Path ids1 = tmp.resolve("x.ids");
        Files.writeString(ids1, "1 40 90 100 33");
        CliRun score = CliRun.of("score", "--model", tmp.resolve("bf16").toString(), "--ids", ids1.toString());
        assertEquals(0, score.exitCode(), score.err());
    }
}
