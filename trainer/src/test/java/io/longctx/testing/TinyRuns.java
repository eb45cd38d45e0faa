package io.longctx.testing;

import io.longctx.train.Recipe;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/** A tiny byte-level corpus and recipe for training tests: seconds per run, deterministic. */
public final class TinyRuns {
    private TinyRuns() {
    }

    private static final String[] WORDS = {"the", "whale", "sea", "ship", "captain", "white", "deep", "sail",
        "harpoon", "crew", "storm", "night", "ocean", "wind", "boat", "man", "old", "long", "voyage", "port"};

    /** Writes 24 documents of pseudo-English sentences (a learnable distribution) under dir/docs. */
    public static Path corpus(Path dir) throws IOException {
        Path docs = Files.createDirectories(dir.resolve("docs"));
        Random random = new Random(42);
        for (int d = 0; d < 24; d++) {
            StringBuilder text = new StringBuilder();
            for (int s = 0; s < 40; s++) {
                int n = 4 + random.nextInt(6);
                for (int w = 0; w < n; w++) {
                    String word = WORDS[random.nextInt(WORDS.length)];
                    text.append(w == 0 ? Character.toUpperCase(word.charAt(0)) + word.substring(1) : word);
                    text.append(w == n - 1 ? ". " : " ");
                }
            }
            Files.writeString(docs.resolve(String.format("doc%02d.txt", d)), text);
        }
        return docs;
    }

    /** Recipe text for a random-init llama (hidden 32, 2 layers) trained at seq_len 64. */
    public static String recipe(Path dir, int steps, String extra) {
        return """
                model:
                  init: random
                  architecture: {model_type: llama, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2,
                                 num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 259,
                                 max_position_embeddings: 64, tie_word_embeddings: true, bos_token_id: 1,
                                 eos_token_id: 2}
                data:
                  sources: [{type: text, path: docs}]
                  tokenizer: byte
                  packing: {mode: concat, seq_len: 64}
                  validation_fraction: 0.25
                  store: store
                train:
                  steps: %d
                  micro_batch: 2
                  grad_accum: 2
                  lr: 3.0e-3
                  warmup_steps: 2
                  schedule: cosine
                  seed: 7
                output:
                  dir: run
                  checkpoint_every: 2
                  keep_last: 3
                %s
                """.formatted(steps, extra);
    }

    public static Path writeRecipe(Path dir, int steps, String extra) throws IOException {
        corpus(dir);
        Path file = dir.resolve("tiny.yaml");
        Files.writeString(file, recipe(dir, steps, extra));
        return file;
    }

    public static Recipe load(Path recipe, String... overrides) {
        return Recipe.load(recipe, List.of(overrides));
    }

    /** The 1-based line of the first line of a recipe that contains text. */
    public static int lineOf(String recipe, String text) {
        String[] lines = recipe.split("\n");
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].contains(text)) {
                return i + 1;
            }
        }
        throw new AssertionError(text + " not in recipe");
    }
}
