package io.longctx.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longctx.Hashing;
import io.longctx.testing.CliRun;
import io.longctx.testing.TinyRuns;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Resume compares the recipe a checkpoint was written under with today's: what cannot change the trajectory is
 * applied and named, anything else is refused with the differences; one training at a time holds a run folder; a
 * checkpoint folder is a base model for a new run.
 */
class ResumeRulesTest {
    @TempDir
    Path tmp;

    private Path recipe;

    private Path trainedRun() throws Exception {
        recipe = TinyRuns.writeRecipe(tmp, 4, "eval: {every: 2, lengths: [32], batches: 2}");
        assertEquals(0, new Trainer(TinyRuns.load(recipe), line -> { }).run(false));
        return tmp.resolve("run/checkpoints/step-000004");
    }

    @Test
    void changedSeqLen_isRefusedNamingTheKeyAndBothValues() throws Exception {
        Path last = trainedRun();
        String before = Hashing.sha256(last.resolve("model.safetensors"));
        CliRun run = CliRun.of("train", recipe.toString(), "--set", "data.packing.seq_len=32", "--set",
                "train.steps=6");
        assertEquals(2, run.exitCode(), run.err());
        assertTrue(run.err().contains("data.packing.seq_len: 64 -> 32"), run.err());
        assertTrue(run.err().contains("train.steps: 4 -> 6"), "a cosine schedule depends on the total steps: "
                + run.err());
        assertTrue(run.err().contains("--restart") && run.err().contains("model.path is " + last), run.err());
        assertFalse(Files.exists(tmp.resolve("run/checkpoints/step-000005")));
        assertEquals(before, Hashing.sha256(last.resolve("model.safetensors")), "nothing already written is lost");
        assertTrue(Files.readString(tmp.resolve("run/recipe.resolved.yaml")).contains("seq_len: 64"),
                "the resolved recipe still describes the run");
    }

    @Test
    void changedRopeFactor_isRefused() throws Exception {
        recipe = TinyRuns.writeRecipe(tmp, 2, "rope_scaling: {rope_type: yarn, factor: 2, "
                + "original_max_position_embeddings: 32}");
        assertEquals(0, new Trainer(TinyRuns.load(recipe), line -> { }).run(false));
        CliRun run = CliRun.of("train", recipe.toString(), "--set", "rope_scaling.factor=4");
        assertEquals(2, run.exitCode(), run.err());
        assertTrue(run.err().contains("rope_scaling.factor: 2.0 -> 4.0"), run.err());
    }

    @Test
    void changedEvalEvery_resumesAndSaysSo() throws Exception {
        trainedRun();
        List<String> log = new ArrayList<>();
        Recipe changed = TinyRuns.load(recipe, "eval.every=1");
        assertEquals(0, new Trainer(changed, log::add).run(false));
        String all = String.join("\n", log);
        assertTrue(all.contains("resume: applying eval.every: 2 -> 1"), all);
        assertTrue(all.contains("nothing to do"), all);
    }

    @Test
    void secondTrainingOnTheSameFolder_isRefusedNamingTheHolder() throws Exception {
        recipe = TinyRuns.writeRecipe(tmp, 2, "");
        try (RunFolder held = RunFolder.open(tmp.resolve("run"))) {
            CliRun run = CliRun.of("train", recipe.toString());
            assertEquals(2, run.exitCode(), run.err());
            assertTrue(run.errorLine().contains("holds this run folder"), run.err());
        }
        // released: the run goes ahead
        assertEquals(0, CliRun.of("train", recipe.toString()).exitCode());
    }

    @Test
    void checkpointFolderAsBaseModel_startsAFreshRunFromItsWeights() throws Exception {
        Path last = trainedRun();
        Path next = tmp.resolve("continue.yaml");
        Files.writeString(next, TinyRuns.recipe(tmp, 2, "").replaceFirst("(?s)model:.*?eos_token_id: 2\\}\n",
                "model: {path: run/checkpoints/step-000004}\n").replace("dir: run", "dir: run2")
                .replace("tokenizer: byte", "tokenizer: model"));
        List<String> log = new ArrayList<>();
        assertEquals(0, new Trainer(TinyRuns.load(next), log::add).run(false));
        String all = String.join("\n", log);
        assertTrue(all.contains("starting from " + last), all);
        assertTrue(all.contains("step 1/2"), "a fresh schedule: " + all);
        assertTrue(Files.isDirectory(tmp.resolve("run2/checkpoints/step-000002")), all);
    }

    @Test
    void changedData_isRefusedAndTheStoreKept() throws Exception {
        trainedRun();
        String manifest = Files.readString(tmp.resolve("store/manifest.json"));
        Files.writeString(tmp.resolve("docs/doc03.txt"), "The whale. The sea. The ship.");
        CliRun run = CliRun.of("train", recipe.toString());
        assertEquals(2, run.exitCode(), run.err());
        assertTrue(run.errorLine().contains("no longer matches the recipe's data (changed since the store was built: "
                + "sources)"), run.err());
        assertEquals(manifest, Files.readString(tmp.resolve("store/manifest.json")), "the store is kept");
    }
}
