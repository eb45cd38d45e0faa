package io.longctx.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longctx.LongctxException;
import io.longctx.testing.CliRun;
import io.longctx.testing.TinyRuns;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each kind of recipe mistake is reported before any work, with the key's path and line. */
class RecipeErrorsTest {
    @TempDir
    Path tmp;

    private String load(String recipeText) throws Exception {
        TinyRuns.corpus(tmp);
        Path file = tmp.resolve("r.yaml");
        Files.writeString(file, recipeText);
        LongctxException e = assertThrows(LongctxException.class, () -> Recipe.load(file, List.of()));
        return e.getMessage();
    }

    private String base(String extra) {
        return TinyRuns.recipe(tmp, 4, extra);
    }


    @Test
    void unknownKey() throws Exception {
        String recipe = base("tokens_per_batch: 4096");
        String message = load(recipe);
        assertTrue(message.contains("r.yaml:" + TinyRuns.lineOf(recipe, "tokens_per_batch") + ": tokens_per_batch: unknown key"),
                message);
    }

    @Test
    void keepingEveryLayer_isRefusedWithTheModelsLayerCount() throws Exception {
        String recipe = base("activation_checkpointing: {every: 1, keep_last: 2}");   // the tiny model has 2 layers
        String message = load(recipe);
        assertTrue(message.contains("activation_checkpointing.keep_last: must be below the model's 2 layers, got 2"),
                message);
    }

    @Test
    void selectiveCheckpointing_refusesWhatItCannotKeep() throws Exception {
        String unknown = load(base("activation_checkpointing: {policy: selective, save: [attention, mlp]}"));
        assertTrue(unknown.contains("activation_checkpointing.save: must list what each layer keeps, from "
                + "[attention]; got [attention, mlp]"), unknown);
        String everyTwo = load(base("activation_checkpointing: {policy: selective, every: 2}"));
        assertTrue(everyTwo.contains("activation_checkpointing.every: selective checkpointing recomputes one layer "
                + "at a time"), everyTwo);
        String saveWithout = load(base("activation_checkpointing: {every: 1, save: [attention]}"));
        assertTrue(saveWithout.contains("activation_checkpointing.save: names what selective checkpointing keeps; "
                + "set policy: selective"), saveWithout);
        String plain = load(base("activation_checkpointing: selective\nattention: plain"));
        assertTrue(plain.contains("activation_checkpointing: selective keeps the fused attention's output and "
                + "log-sum-exp; it needs attention: sdpa"), plain);
        String policy = load(base("activation_checkpointing: {policy: sometimes}"));
        assertTrue(policy.contains("activation_checkpointing.policy: must be every_layer or selective, got "
                + "'sometimes'"), policy);
    }

    @Test
    void misspelledNestedKey() throws Exception {
        String recipe = base("").replace("warmup_steps:", "warmpu_steps:");
        String message = load(recipe);
        assertTrue(message.contains(":" + TinyRuns.lineOf(recipe, "warmpu") + ": train.warmpu_steps: unknown key"), message);
    }

    @Test
    void wrongType() throws Exception {
        String recipe = base("").replace("steps: 4", "steps: four");
        String message = load(recipe);
        assertTrue(message.contains(":" + TinyRuns.lineOf(recipe, "steps: four") + ": train.steps: must be a whole number of at most "
                + "2,147,483,647, got 'four'"), message);
    }

    @Test
    void missingRequiredField() throws Exception {
        String recipe = base("").replace("packing: {mode: concat, seq_len: 64}", "packing: {mode: concat}");
        String message = load(recipe);
        assertTrue(message.contains("data.packing.seq_len: is required"), message);
    }

    @Test
    void factorBelowOne() throws Exception {
        String message = load(base("rope_scaling: {rope_type: yarn, factor: 0.5}"));
        assertTrue(message.contains("rope_scaling") && message.contains("rope_scaling.factor: must be a finite number >= 1"),
                message);
    }

    @Test
    void nonPositiveLearningRate() throws Exception {
        String recipe = base("").replace("lr: 3.0e-3", "lr: 0");
        String message = load(recipe);
        assertTrue(message.contains(":" + TinyRuns.lineOf(recipe, "lr: 0") + ": train.lr: must be > 0"), message);
    }

    @Test
    void warmupStableDecay_needsItsDecayStepsAndOnlyIt() throws Exception {
        String missing = load(base("").replace("schedule: cosine", "schedule: wsd"));
        assertTrue(missing.contains("train.decay_steps: is required"), missing);
        String tooMany = load(base("").replace("schedule: cosine", "schedule: wsd\n  decay_steps: 3"));
        assertTrue(tooMany.contains("train.decay_steps: must be in [1, steps - warmup_steps], got 3"), tooMany);
        String stray = load(base("").replace("schedule: cosine", "schedule: cosine\n  decay_steps: 1"));
        assertTrue(stray.contains("train.decay_steps: is only read with schedule: wsd (the schedule is cosine)"), stray);
    }

    @Test
    void targetLengthNotAboveOriginalContext() throws Exception {
        String message = load(base("rope_scaling: {rope_type: yarn, factor: 4}"));
        assertTrue(message.contains("data.packing.seq_len: must be above the original context 64"), message);
    }

    @Test
    void targetLengthBeyondWhatTheFactorCovers() throws Exception {
        String recipe = base("rope_scaling: {rope_type: yarn, factor: 2}").replace("seq_len: 64", "seq_len: 512");
        String message = load(recipe);
        assertTrue(message.contains("exceeds rope_scaling.factor x original context = 128"), message);
    }

    @Test
    void allProblemsReportedTogether() throws Exception {
        String recipe = base("colour: red").replace("lr: 3.0e-3", "lr: -1").replace("micro_batch: 2",
                "micro_batch: many");
        String message = load(recipe);
        assertTrue(message.startsWith("3 problems in the recipe"), message);
    }

    @Test
    void setOverrideIsAppliedAndChecked() throws Exception {
        TinyRuns.corpus(tmp);
        Path file = tmp.resolve("ok.yaml");
        Files.writeString(file, base(""));
        Recipe recipe = Recipe.load(file, List.of("train.lr=1e-5", "train.betas=[0.8, 0.99]"));
        assertEquals(1e-5, recipe.train().lr());
        assertEquals(0.8, recipe.train().beta1());
        CliRun run = CliRun.of("train", file.toString(), "--set", "train.lr=zero");
        assertEquals(2, run.exitCode());
        assertTrue(run.errorLine().contains("train.lr: must be a finite number, got 'zero'"), run.err());
    }

    @Test
    void missingRecipeFile() {
        CliRun run = CliRun.of("train", tmp.resolve("nope.yaml").toString());
        assertEquals(2, run.exitCode());
        assertTrue(run.errorLine().contains("nope.yaml: recipe not found"), run.err());
    }

    @Test
    void invalidYaml() throws Exception {
        Path file = tmp.resolve("bad.yaml");
        Files.writeString(file, "model:\n  init: random\n train: [unclosed\n");
        CliRun run = CliRun.of("train", file.toString());
        assertEquals(2, run.exitCode());
        assertTrue(run.errorLine().contains("bad.yaml:") && run.errorLine().contains("not valid YAML"), run.err());
    }
}
