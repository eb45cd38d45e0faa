package io.longctx.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longctx.testing.CliRun;
import io.longctx.testing.TinyRuns;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The recipe is read strictly in every section, rope_scaling and model.architecture included, and every rule that
 * spans sections is checked before any work: each case runs the real CLI and asserts exit 2, the one line naming
 * key and line, and that nothing was packed.
 */
class RecipeStrictnessTest {
    @TempDir
    Path tmp;

    private Path write(String recipe) throws Exception {
        TinyRuns.corpus(tmp);
        Path file = tmp.resolve("r.yaml");
        Files.writeString(file, recipe);
        return file;
    }

    private CliRun train(String recipe, String... extra) throws Exception {
        String[] args = new String[2 + extra.length];
        args[0] = "train";
        args[1] = write(recipe).toString();
        System.arraycopy(extra, 0, args, 2, extra.length);
        CliRun run = CliRun.of(args);
        assertEquals(2, run.exitCode(), run.err());
        assertFalse(run.err().contains("\tat "), "no stack trace: " + run.err());
        assertFalse(run.err().contains("internal"), run.err());
        assertFalse(Files.exists(tmp.resolve("store")), "nothing was packed: " + run.err());
        return run;
    }

    private String base(String extra) {
        return TinyRuns.recipe(tmp, 4, extra);
    }


    @Test
    void misspelledYarnKey_isRefusedWithItsPathAndLine() throws Exception {
        String recipe = base("""
                rope_scaling:
                  rope_type: yarn
                  factor: 8
                  original_max_position_embeddings: 256
                  beta_fst: 16
                """).replace("max_position_embeddings: 64,", "max_position_embeddings: 256,")
                .replace("seq_len: 64", "seq_len: 2048");
        CliRun run = train(recipe);
        assertTrue(run.err().contains("r.yaml:" + TinyRuns.lineOf(recipe, "beta_fst") + ": rope_scaling.beta_fst: unknown key"),
                run.err());
    }

    @Test
    void threeProblemsInThreeSections_areAllReported() throws Exception {
        String recipe = base("rope_scaling: {rope_typ: yarn, factor: 2}").replace("tie_word_embeddings:",
                "tie_word_embedding:").replace("lr: 3.0e-3", "lr: fast");
        CliRun run = train(recipe);
        String err = run.err();
        assertTrue(err.contains("3 problems in the recipe"), err);
        assertTrue(err.contains("model.architecture.tie_word_embedding: unknown key"), err);
        assertTrue(err.contains(":" + TinyRuns.lineOf(recipe, "rope_typ") + ": rope_scaling.rope_typ: unknown key"), err);
        assertTrue(err.contains(":" + TinyRuns.lineOf(recipe, "lr: fast") + ": train.lr: must be a finite number"), err);
        assertFalse(err.contains("seq_len"), "rope_typ is not reported as a seq_len problem: " + err);
    }

    @Test
    void duplicateKeys_areErrorsWithBothLines() throws Exception {
        String recipe = base("").replace("  lr: 3.0e-3\n", "  lr: 3.0e-3\n  lr: 1.0e-3\n") + "train:\n  steps: 9\n";
        CliRun run = train(recipe);
        assertTrue(run.err().contains(":" + (TinyRuns.lineOf(recipe, "lr: 3.0e-3") + 1) + ": train.lr: duplicate key (first "
                + "given at line " + TinyRuns.lineOf(recipe, "lr: 3.0e-3") + ")"), run.err());
        assertTrue(run.err().contains("train: duplicate key"), run.err());
    }

    @Test
    void nanFactor_isOneCleanLine() throws Exception {
        CliRun run = train(base("rope_scaling: {rope_type: yarn, factor: .nan}"));
        assertTrue(run.errorLine().contains("rope_scaling.factor: must be a finite number, got '.nan'"), run.err());
    }

    @Test
    void setIntoAValue_isOneCleanLine() throws Exception {
        CliRun run = train(base(""), "--set", "train.lr.sub=1");
        assertTrue(run.errorLine().contains("--set train.lr.sub=1: train.lr is a value, not a section"), run.err());
    }

    @Test
    void outOfRangeInteger_isOneProblemWithoutFollowOns() throws Exception {
        CliRun run = train(base("").replace("steps: 4", "steps: 99999999999"));
        assertTrue(run.errorLine().contains("train.steps: must be a whole number of at most 2,147,483,647"),
                run.err());
        assertFalse(run.err().contains("problems in the recipe"), run.err());
    }

    @Test
    void numericTokenizer_isATypeErrorNotAMissingFile() throws Exception {
        CliRun run = train(base("").replace("tokenizer: byte", "tokenizer: 12"));
        assertTrue(run.errorLine().contains("data.tokenizer: must be a string, got int '12'"), run.err());
        assertFalse(run.err().contains("--ids"), run.err());
    }

    @Test
    void longRopeFactorsOfTheWrongLength_areRefusedBeforeAnyWork() throws Exception {
        // head_dim 8: 4 rotary pairs
        CliRun run = train(base("rope_scaling: {rope_type: longrope, factor: 2, short_factor: [1, 1, 1], "
                + "long_factor: [2, 2, 2]}").replace("seq_len: 64", "seq_len: 128"));
        assertTrue(run.errorLine().contains("rope_scaling.short_factor: short_factor and long_factor have 3 entries, "
                + "but the model has 4 rotary pairs"), run.err());
    }

    @Test
    void scalingWithoutAConfigForm_isRefusedBeforePacking() throws Exception {
        CliRun run = train(base("rope_scaling: {rope_type: dynamic_yarn, factor: 2}").replace("seq_len: 64",
                "seq_len: 128"));
        assertTrue(run.errorLine().contains("rope_scaling.rope_type: rope_type dynamic_yarn has no HF config form"),
                run.err());
    }

    @Test
    void pickleOnlyModel_isRefusedBeforePacking() throws Exception {
        Path model = Files.createDirectories(tmp.resolve("pickled"));
        Files.writeString(model.resolve("config.json"), TinyModelsConfig.JSON);
        Files.write(model.resolve("pytorch_model.bin"), new byte[] {(byte) 0x80, 2, '.'});
        String recipe = base("").replaceFirst("(?s)model:.*?eos_token_id: 2\\}\n", "model: {path: pickled}\n")
                .replace("tokenizer: byte", "tokenizer: byte");
        CliRun run = train(recipe);
        assertTrue(run.errorLine().contains("pytorch_model.bin: pickle checkpoints are refused"), run.err());
    }

    @Test
    void hugeMicroBatch_isBoundedBeforeAnyWork() throws Exception {
        CliRun run = train(base("").replace("micro_batch: 2", "micro_batch: 1000000000"));
        assertTrue(run.errorLine().contains("train.micro_batch: x data.packing.seq_len = 64000000000 tokens"),
                run.err());
    }

    /** The tiny recipe's architecture as a config.json. */
    private static final class TinyModelsConfig {
        static final String JSON = """
                {"model_type": "llama", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                 "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 259,
                 "max_position_embeddings": 64, "tie_word_embeddings": true}
                """;
    }
}
