package io.longctx.data.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longctx.LongctxException;
import io.longctx.data.DataConfig;
import io.longctx.data.PackJob;
import io.longctx.data.pack.PackedSequence;
import io.longctx.recipe.RecipeException;
import io.longctx.recipe.RecipeNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Packing documents into a store and reading it back, on small generated corpora. */
class PackJobTest {
    @TempDir
    Path tmp;

    @BeforeEach
    void corpus() throws IOException {
        Files.createDirectories(tmp.resolve("docs"));
        for (int i = 0; i < 30; i++) {
            StringBuilder text = new StringBuilder();
            for (int k = 0; k <= i * 7; k++) {
                text.append("doc ").append(i).append(" word ").append(k).append(". ");
            }
            Files.writeString(tmp.resolve("docs/d" + (100 + i) + ".txt"), text);
        }
        Files.writeString(tmp.resolve("docs/empty.txt"), "   ");
    }

    private DataConfig config(String packing, String store, String extra) {
        String yaml = "data:\n  sources: [{type: text, path: docs}]\n  tokenizer: byte\n  packing: " + packing
                + "\n  validation_fraction: 0.2\n  seed: 5\n  store: " + store + "\n" + extra;
        RecipeNode root = RecipeNode.parse(yaml, "test.yaml");
        DataConfig config = DataConfig.parse(root.get("data"), tmp, null, tmp.resolve("default-store"));
        root.finish();
        root.problems().throwIfAny();
        return config;
    }

    private static List<String> log() {
        return new ArrayList<>();
    }

    @Test
    void concatStore_roundTripsAndAccountsForTokens() {
        List<String> lines = log();
        PackJob.Result result = new PackJob(config("{mode: concat, seq_len: 128, document_aware: true}", "s1", ""),
                lines::add).run(false);
        TokenStore store = result.store();
        store.verify();
        var stats = store.manifest().path("stats");
        assertEquals(31, stats.path("sources").path("documents_read").asLong() + stats.path("sources")
                .path("skipped_empty").asLong());
        for (String split : List.of("train", "validation")) {
            var s = stats.path(split);
            assertEquals(s.path("tokens_in").asLong() + s.path("separator_tokens").asLong(),
                    s.path("tokens_packed").asLong() + s.path("dropped_tail_tokens").asLong(), split);
            TokenStore.Split data = store.split(split);
            assertEquals(s.path("sequences").asLong(), data.size());
            for (long i = 0; i < data.size(); i++) {
                PackedSequence seq = data.sequence(i);
                assertEquals(128, seq.length());
                assertEquals(128, seq.used());
            }
        }
        assertTrue(store.split("validation").size() > 0, "some documents held out");
        PackedSequence first = store.split("train").sequence(0);
        assertEquals(1, first.tokens()[0], "documents start with BOS");
        assertEquals(0, first.docStarts()[0]);
    }

    @Test
    void sameRecipeTwice_givesByteIdenticalStores_andUpToDateStoreIsReused() throws IOException {
        new PackJob(config("{mode: bin, seq_len: 96}", "a", ""), line -> { }).run(false);
        new PackJob(config("{mode: bin, seq_len: 96}", "b", ""), line -> { }).run(false);
        for (String name : List.of("manifest.json", "train-00000.bin", "validation-00000.bin")) {
            byte[] a = Files.readAllBytes(tmp.resolve("a").resolve(name));
            byte[] b = Files.readAllBytes(tmp.resolve("b").resolve(name));
            if (name.equals("manifest.json")) {
                // the fingerprint names the store-independent inputs only; manifests are identical
                assertEquals(new String(a), new String(b));
            } else {
                assertArrayEquals(a, b, name);
            }
        }
        PackJob.Result again = new PackJob(config("{mode: bin, seq_len: 96}", "a", ""), line -> { }).run(false);
        assertTrue(again.reused());
    }

    @Test
    void changedPacking_rebuildsAndSaysWhy() {
        new PackJob(config("{mode: concat, seq_len: 64}", "c", ""), line -> { }).run(false);
        PackJob.Result rebuilt = new PackJob(config("{mode: concat, seq_len: 80}", "c", ""), line -> { }).run(false);
        assertFalse(rebuilt.reused());
        assertTrue(rebuilt.reason().contains("packing"), rebuilt.reason());
        assertEquals(80, rebuilt.store().seqLen());
    }

    @Test
    void interruptedPack_leavesNoCompleteStore_andKeepsTheOldOne() throws IOException {
        new PackJob(config("{mode: concat, seq_len: 64}", "d", ""), line -> { }).run(false);
        Files.writeString(tmp.resolve("docs/zzz-broken.txt"), "fine");
        // a JSON Lines source with a malformed line fails the second pack midway
        Files.writeString(tmp.resolve("bad.jsonl"), "{\"text\": \"ok\"}\n{oops\n");
        String yaml = "data:\n  sources: [{type: text, path: docs}, {type: jsonl, path: bad.jsonl}]\n"
                + "  tokenizer: byte\n  packing: {mode: concat, seq_len: 64}\n  store: d\n";
        RecipeNode root = RecipeNode.parse(yaml, "t.yaml");
        DataConfig broken = DataConfig.parse(root.get("data"), tmp, null, tmp.resolve("x"));
        LongctxException e = assertThrows(LongctxException.class,
                () -> new PackJob(broken, line -> { }).run(false));
        assertTrue(e.getMessage().contains("bad.jsonl:2"), e.getMessage());
        TokenStore old = TokenStore.open(tmp.resolve("d"));
        old.verify();
        assertEquals(64, old.seqLen());
        try (Stream<Path> files = Files.list(tmp)) {
            assertTrue(files.noneMatch(p -> p.getFileName().toString().startsWith(".d.tmp")),
                    "temporary folder removed");
        }
    }

    @Test
    void tooLittleData_failsWithAHint() {
        LongctxException e = assertThrows(LongctxException.class,
                () -> new PackJob(config("{mode: concat, seq_len: 1000000}", "e", ""), line -> { }).run(false));
        assertTrue(e.getMessage().contains("no training sequence"), e.getMessage());
    }

    @Test
    void minDocTokens_skipsShortDocuments() {
        PackJob.Result r = new PackJob(config("{mode: bin, seq_len: 256, min_doc_tokens: 1000}", "f", ""),
                line -> { }).run(false);
        var train = r.store().manifest().path("stats").path("train");
        assertTrue(train.path("skipped_short").asLong() > 0);
    }

    /** The collected messages of a data section that must not parse. */
    private String recipeErrors(String yaml, String file) {
        RecipeNode root = RecipeNode.parse(yaml, file);
        RecipeException e = assertThrows(RecipeException.class, () -> {
            DataConfig.parse(root.get("data"), tmp, null, tmp);
            root.finish();
            root.problems().throwIfAny();
        });
        return e.getMessage();
    }

    @Test
    void recipeErrors_areCollectedWithLines() {
        String yaml = "data:\n  sources: [{type: pdf, path: docs}]\n  packing: {mode: concat, seq_len: 1, "
                + "overlap: 3, colour: red}\n  validation_fraction: 1.5\n";
        String message = recipeErrors(yaml, "bad.yaml");
        assertTrue(message.contains("bad.yaml:2: data.sources[0].type: must be one of [text, jsonl, csv, tsv, retrieval]"),
                message);
        assertTrue(message.contains("data.packing.seq_len: must be at least 2"), message);
        assertTrue(message.contains("data.packing.overlap"), message);
        assertTrue(message.contains("bad.yaml:3: data.packing.colour: unknown key"), message);
        assertTrue(message.contains("bad.yaml:4: data.validation_fraction: must be in [0, 1)"), message);
    }

    @Test
    void storePathThatIsAFile_isRefusedAndTheFileKept() throws IOException {
        Path file = Files.writeString(tmp.resolve("notes.txt"), "my notes");
        LongctxException e = assertThrows(LongctxException.class,
                () -> new PackJob(config("{mode: concat, seq_len: 64}", "notes.txt", ""), line -> { }).run(false));
        assertTrue(e.getMessage().contains("data.store: " + file + " is a file"), e.getMessage());
        assertEquals("my notes", Files.readString(file));
    }

    @Test
    void storeFolderHoldingOtherFiles_isRefusedAndNothingDeleted() throws IOException {
        Path folder = Files.createDirectories(tmp.resolve("results"));
        Files.writeString(folder.resolve("thesis.tex"), "precious");
        Files.createDirectories(folder.resolve("figures"));
        LongctxException e = assertThrows(LongctxException.class,
                () -> new PackJob(config("{mode: concat, seq_len: 64}", "results", ""), line -> { }).run(false));
        assertTrue(e.getMessage().contains("holds files that are not a longctx store"), e.getMessage());
        assertEquals("precious", Files.readString(folder.resolve("thesis.tex")));
        assertTrue(Files.isDirectory(folder.resolve("figures")));
    }

    @Test
    void emptyFolderAndOwnStore_areUsed() throws IOException {
        Files.createDirectories(tmp.resolve("fresh"));
        DataConfig config = config("{mode: concat, seq_len: 64}", "fresh", "");
        assertFalse(new PackJob(config, line -> { }).run(false).reused());
        assertFalse(new PackJob(config, line -> { }).run(true).reused(), "an existing store is rebuilt in place");
    }

    @Test
    void changedSourceFile_rebuildsTheStoreSayingWhy() throws IOException {
        DataConfig config = config("{mode: concat, seq_len: 64}", "s-change", "");
        new PackJob(config, line -> { }).run(false);
        assertTrue(new PackJob(config, line -> { }).run(false).reused());
        Files.writeString(tmp.resolve("docs/d105.txt"), "rewritten text of another length");
        PackJob.Result rebuilt = new PackJob(config, line -> { }).run(false);
        assertFalse(rebuilt.reused());
        assertTrue(rebuilt.reason().contains("sources"), rebuilt.reason());
    }

    @Test
    void packSummary_countsEmptyAndInvalidDocumentsBySource() throws IOException {
        Files.createDirectories(tmp.resolve("odd"));
        Files.writeString(tmp.resolve("odd/blank.txt"), "\n\n");
        Files.write(tmp.resolve("odd/bytes.txt"), new byte[] {'o', 'k', ' ', (byte) 0xC3, (byte) 0x28, ' ', 'x'});
        String yaml = "data:\n  sources: [{type: text, path: docs}, {type: text, path: odd}]\n  tokenizer: byte\n"
                + "  packing: {mode: concat, seq_len: 64}\n  store: s-odd\n";
        RecipeNode root = RecipeNode.parse(yaml, "test.yaml");
        DataConfig config = DataConfig.parse(root.get("data"), tmp, null, tmp.resolve("default-store"));
        List<String> lines = log();
        new PackJob(config, lines::add).run(false);
        String all = String.join("\n", lines);
        assertTrue(all.contains("data.sources[0] (text " + tmp.resolve("docs") + "): 30 document(s) from 31 "
                + "file(s); 1 empty (skipped)"), all);
        assertTrue(all.contains("data.sources[1] (text " + tmp.resolve("odd") + "): 1 document(s) from 2 file(s); "
                + "1 empty (skipped); 1 with invalid UTF-8 (1 byte sequence(s) replaced)"), all);
    }

    private DataConfig withRetrieval(String retrieval, String store) {
        String yaml = "data:\n  sources: [{type: text, path: docs}, " + retrieval + "]\n  tokenizer: byte\n"
                + "  packing: {mode: concat, seq_len: 128}\n  validation_fraction: 0.2\n  seed: 5\n  store: " + store
                + "\n";
        RecipeNode root = RecipeNode.parse(yaml, "test.yaml");
        DataConfig config = DataConfig.parse(root.get("data"), tmp, null, tmp.resolve("default-store"));
        root.finish();
        root.problems().throwIfAny();
        return config;
    }

    @Test
    void retrievalSource_makesItsFractionOfTrainingTokens_trainingSplitOnly_andIsFingerprinted() {
        DataConfig config = withRetrieval("{type: retrieval, fraction: 0.25, lengths: [120, 300], task: false, seed: 3}", "r1");
        List<String> lines = log();
        TokenStore store = new PackJob(config, lines::add).run(false).store();
        store.verify();
        var stats = store.manifest().path("stats");
        long files = stats.path("by_source").get(0).path("text_bytes").asLong();   // byte tokens: bytes = tokens
        var generated = stats.path("by_source").get(1);
        long synthetic = generated.path("tokens_generated").asLong();
        long fileTrainTokens = stats.path("train").path("tokens_in").asLong() - synthetic;
        double share = synthetic / (double) (synthetic + fileTrainTokens);
        assertTrue(Math.abs(share - 0.25) < 0.01, "retrieval share of training tokens " + share);
        assertTrue(fileTrainTokens < files, "some file documents held out for validation");
        // validation holds file documents only: its tokens are the rest of the files' tokens
        assertEquals(files - fileTrainTokens, stats.path("validation").path("tokens_in").asLong());
        assertTrue(String.join("\n", lines).contains("data.sources[1] (retrieval, 25% of training tokens, 120-300 "
                + "tokens, fixed filler): "), String.join("\n", lines));
        // the text of the packed training tokens holds whole passkey documents with their answers
        StringBuilder text = new StringBuilder();
        TokenStore.Split train = store.split("train");
        for (long i = 0; i < train.size(); i++) {
            for (int id : train.sequence(i).tokens()) {
                if (id >= 3) {
                    text.append((char) (id - 3));
                }
            }
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("The pass key is (\\d+)\\. Remember it\\. \\1 is "
                + "the pass key\\.\n[^\n]*\nWhat is the pass key\\? The pass key is (\\d+)\\.").matcher(text);
        int whole = 0;
        while (m.find()) {
            assertEquals(m.group(1), m.group(2));
            whole++;
        }
        assertTrue(whole > 20, whole + " whole documents");
        assertTrue(new PackJob(config, line -> { }).run(false).reused());
        PackJob.Result reseeded = new PackJob(withRetrieval("{type: retrieval, fraction: 0.25, lengths: [120, 300], "
                + "task: false, seed: 4}", "r1"), line -> { }).run(false);
        assertFalse(reseeded.reused());
    }

    @Test
    void retrievalSourceErrors_nameTheirKeys() {
        String yaml = "data:\n  sources:\n    - {type: retrieval, fraction: 0.5, lengths: [300, 200]}\n"
                + "    - {type: retrieval, lengths: [100], filler: novel}\n  packing: {seq_len: 64}\n";
        String message = recipeErrors(yaml, "bad.yaml");
        assertTrue(message.contains("bad.yaml:3: data.sources[0].lengths: must be [min_tokens, max_tokens]"), message);
        assertTrue(message.contains("bad.yaml:4: data.sources[1].fraction: is required"), message);
        assertTrue(message.contains("data.sources[1].lengths: must be [min_tokens, max_tokens]"), message);
        assertTrue(message.contains("data.sources[1].filler: must be one of [fixed, sources]"), message);
        assertTrue(message.contains("data.sources: needs at least one source of files"), message);
        String heavy = "data:\n  sources: [{type: text, path: docs}, {type: retrieval, fraction: 0.6, lengths: [200, 300]},"
                + " {type: retrieval, fraction: 0.5, lengths: [200, 300]}]\n  packing: {seq_len: 64}\n";
        String heavyErrors = recipeErrors(heavy, "heavy.yaml");
        assertTrue(heavyErrors.contains("retrieval fractions add up to 1.1"), heavyErrors);
    }

    @Test
    void retrievalLengthsTooShortForThePrompt_failBeforeAnyDocumentIsRead() {
        DataConfig config = withRetrieval("{type: retrieval, fraction: 0.2, lengths: [60, 300]}", "r-short");
        LongctxException e = assertThrows(LongctxException.class, () -> new PackJob(config, line -> { }).run(false));
        assertTrue(e.getMessage().startsWith("data.sources[1].lengths: the shortest document, 60 tokens"),
                e.getMessage());
        assertFalse(Files.exists(tmp.resolve("r-short")));
    }
}
