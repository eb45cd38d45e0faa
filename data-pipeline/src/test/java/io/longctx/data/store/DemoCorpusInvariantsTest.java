package io.longctx.data.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.longctx.data.DataConfig;
import io.longctx.data.PackJob;
import io.longctx.data.pack.PackedSequence;
import io.longctx.data.sample.SequenceSampler;
import io.longctx.recipe.RecipeNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Invariants on the real demo corpus (Moby-Dick, fetched by scripts/fetch-demo-corpus.sh; CI fetches it first).
 * Skipped with a message when the corpus is absent.
 */
class DemoCorpusInvariantsTest {
    @TempDir
    static Path tmp;

    static Path corpus;

    @BeforeAll
    static void locate() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("data/demo-corpus/moby-dick");
            if (Files.isDirectory(candidate)) {
                corpus = candidate;
                return;
            }
        }
    }

    private static DataConfig config(String mode, boolean aware, String store, int seed) {
        assumeTrue(corpus != null, "skipped: demo corpus absent (run scripts/fetch-demo-corpus.sh)");
        String yaml = "data:\n  sources: [{type: jsonl, path: '" + corpus + "', id_field: chapter}]\n"
                + "  tokenizer: byte\n  packing: {mode: " + mode + ", seq_len: 1024, document_aware: " + aware
                + "}\n  validation_fraction: 0.05\n  seed: " + seed + "\n  store: '" + tmp.resolve(store) + "'\n";
        RecipeNode root = RecipeNode.parse(yaml, "invariants.yaml");
        return DataConfig.parse(root.get("data"), tmp, null, tmp.resolve("unused"));
    }

    @Test
    void concat_everySequenceExactLength_andTokensAccounted_andPositionsRestart() {
        TokenStore store = new PackJob(config("concat", true, "concat", 1), line -> { }).run(false).store();
        var stats = store.manifest().path("stats");
        long documents = 0;
        for (String split : List.of("train", "validation")) {
            var s = stats.path(split);
            documents += s.path("documents_kept").asLong();
            assertEquals(s.path("tokens_in").asLong() + s.path("separator_tokens").asLong(),
                    s.path("tokens_packed").asLong() + s.path("dropped_tail_tokens").asLong(), split);
            TokenStore.Split data = store.split(split);
            for (long i = 0; i < data.size(); i++) {
                PackedSequence seq = data.sequence(i);
                assertEquals(1024, seq.length());
                assertEquals(1024, seq.used());
                int[] positions = seq.positionIds();
                for (int start : seq.docStarts()) {
                    assertEquals(0, positions[start], "position ids restart at a document start");
                    assertEquals(1, seq.tokens()[start], "a document starts with BOS");
                }
                for (int t = 1; t < positions.length; t++) {
                    boolean restart = java.util.Arrays.binarySearch(seq.docStarts(), t) >= 0;
                    assertEquals(restart ? 0 : positions[t - 1] + 1, positions[t]);
                }
            }
        }
        assertEquals(stats.path("sources").path("documents_read").asLong(), documents);
    }

    @Test
    void sameSeed_byteIdenticalStores() throws Exception {
        TokenStore a = new PackJob(config("bin", false, "bin-a", 3), line -> { }).run(false).store();
        TokenStore b = new PackJob(config("bin", false, "bin-b", 3), line -> { }).run(false).store();
        try (var files = Files.list(a.dir())) {
            for (Path file : files.filter(Files::isRegularFile).toList()) {
                String name = file.getFileName().toString();
                if (!name.equals(TokenStore.MANIFEST)) {
                    assertArrayEquals(Files.readAllBytes(file), Files.readAllBytes(b.dir().resolve(name)), name);
                }
            }
        }
        assertEquals(a.manifest().path("splits"), b.manifest().path("splits"));
        assertEquals(a.manifest().path("stats"), b.manifest().path("stats"));
    }

    @Test
    void samplerResume_reproducesUninterruptedOrderOverTheStore() {
        TokenStore store = new PackJob(config("concat", false, "concat", 1), line -> { }).run(false).store();
        long size = store.split("train").size();
        SequenceSampler reference = new SequenceSampler(size, 11);
        List<int[]> expected = new ArrayList<>();
        List<SequenceSampler.Cursor> cursors = new ArrayList<>();
        for (int i = 0; i < size + 20; i++) {
            cursors.add(reference.cursor());
            expected.add(store.split("train").sequence(reference.next()).tokens());
        }
        for (int k : new int[] {0, 7, (int) size - 1, (int) size, (int) size + 3}) {
            SequenceSampler resumed = new SequenceSampler(size, cursors.get(k));
            for (int i = k; i < Math.min(expected.size(), k + 30); i++) {
                assertArrayEquals(expected.get(i), store.split("train").sequence(resumed.next()).tokens());
            }
        }
    }
}
