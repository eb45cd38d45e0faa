package io.longctx.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.testing.CliRun;
import io.longctx.testing.TinyRuns;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The demo pipeline end to end on a tiny model (a few steps, short lengths), so it cannot silently break:
 * pretrain, export, extend with YaRN and activation checkpointing, evaluate five variants, passkey, report; then a
 * second run that reuses the base model.
 */
class ShrunkenDemoTest {
    @TempDir
    Path tmp;

    @Test
    void demoRunsEndToEnd_andReusesTheBaseModel() throws Exception {
        // the demo's shape: warmup-stable-decay in both stages, then documents packed whole, each attending to itself,
        // under selective checkpointing
        TinyRuns.corpus(tmp);
        Path pretrain = tmp.resolve("pretrain.yaml");
        Files.writeString(pretrain, TinyRuns.recipe(tmp, 6, "").replace("schedule: cosine",
                "schedule: wsd\n  decay_steps: 2"));
        Path extend = tmp.resolve("extend.yaml");
        Files.writeString(extend, TinyRuns.recipe(tmp, 3, """
                rope_scaling: {rope_type: yarn, factor: 4, original_max_position_embeddings: 64}
                activation_checkpointing: selective
                eval: {every: 3, lengths: [256], batches: 1, passkey: {lengths: [256], trials: 2}}
                """).replace("schedule: cosine", "schedule: wsd\n  decay_steps: 1")
                .replace("sources: [{type: text, path: docs}]", "sources: [{type: text, path: docs}, "
                + "{type: retrieval, fraction: 0.3, lengths: [120, 250], task: false, seed: 3}]").replace("""
                model:
                  init: random
                  architecture: {model_type: llama, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2,
                                 num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 259,
                                 max_position_embeddings: 64, tie_word_embeddings: true, bos_token_id: 1,
                                 eos_token_id: 2}
                """, "model: {path: base}\n").replace("{mode: concat, seq_len: 64}", "{mode: bin, document_aware: true, seq_len: 256}").replace("store: store",
                "store: store-long").replace("dir: run", "dir: run-long"));
        String[] args = {"demo", "--pretrain", pretrain.toString(), "--extend", extend.toString(), "--base",
            tmp.resolve("base").toString(), "--out", tmp.resolve("report").toString(), "--eval-data",
            tmp.resolve("docs").toString() + "/doc0*.txt", "--eval-max-tokens", "600", "--stride", "64",
            "--passkey-trials", "4", "--passkey-bins", "2"};
        CliRun first = CliRun.of(args);
        assertEquals(0, first.exitCode(), first.err());
        Path report = tmp.resolve("report/report.md");
        String md = Files.readString(report);
        assertTrue(md.contains("| variant | 64 | 128 | 256 |"), md);
        for (String variant : new String[] {"| base |", "| base linear x4 |", "| base ntk x4 |", "| base yarn x4 |",
            "| extended-model yarn x4 |"}) {
            assertTrue(md.contains(variant), variant + " in " + md);
        }
        assertTrue(md.contains("## Checks") && md.contains("YaRN without fine-tuning beats PI"), md);
        assertTrue(md.contains("Training data: stage 1 trained on plain text alone (no retrieval documents); stage 2 "
                + "mixed synthetic retrieval documents into its text (retrieval, 30% of training tokens, 120-250 "
                + "tokens, fixed filler)"), md);
        assertTrue(md.contains("### Passkey checks") && md.contains("the extended model retrieves at least 80% at "
                + "256 in every depth bin") && md.contains("depth ~0.25: ") && md.contains("depth ~0.75: "), md);
        assertTrue(md.contains("![passkey accuracy, base and extended](passkey.png)"), md);
        // the synthetic source went into stage 2's store, and passkey ran during training
        JsonNode store = new ObjectMapper().readTree(tmp.resolve("store-long/manifest.json").toFile());
        assertTrue(store.path("stats").path("by_source").get(1).path("tokens_generated").asLong() > 0,
                store.toString());
        String evalCsv = Files.readString(tmp.resolve("run-long/eval.csv"));
        assertTrue(evalCsv.lines().findFirst().orElse("").contains("passkey_256"), evalCsv);
        assertTrue(evalCsv.lines().count() >= 2, evalCsv);
        assertTrue(Files.isRegularFile(tmp.resolve("report/extended-model.gguf")));
        assertTrue(md.contains("llama.cpp agrees with longctx on the extended model: max |delta log p| = ")
                && md.contains("greedy tokens identical: yes") || md.contains("llama.cpp check not run: "), md);
        for (String file : new String[] {"perplexity.png", "loss-by-position.png", "passkey.png", "passkey-base.png",
            "passkey-extended.png", "results.json", "extended-model/config.json", "extended-model/tokenizer.json"}) {
            assertTrue(Files.isRegularFile(tmp.resolve("report").resolve(file)), file);
        }
        JsonNode config = new ObjectMapper().readTree(tmp.resolve("report/extended-model/config.json").toFile());
        assertEquals("yarn", config.path("rope_scaling").path("rope_type").asText());
        assertEquals(256, config.path("max_position_embeddings").asInt());
        assertTrue(first.out().contains("report: "), first.out());

        CliRun second = CliRun.of(args);
        assertEquals(0, second.exitCode(), second.err());
        assertTrue(second.err().contains("stage 1 skipped, reusing the base model"), second.err());
        assertTrue(second.err().contains("nothing to do"), second.err());
    }
}
