package io.longctx.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.longctx.LongctxException;
import io.longctx.Progress;
import io.longctx.data.pack.PackStats;
import io.longctx.data.pack.Packer;
import io.longctx.data.retrieval.FillerPool;
import io.longctx.data.retrieval.RetrievalDocuments;
import io.longctx.data.source.Document;
import io.longctx.data.source.DocumentReader;
import io.longctx.data.source.SourceConfig;
import io.longctx.data.source.SourceStats;
import io.longctx.data.store.StoreWriter;
import io.longctx.data.store.TokenStore;
import io.longctx.data.tokenize.ByteLevelTokenizer;
import io.longctx.data.tokenize.TextTokenizer;
import io.longctx.data.tokenize.TokenizerSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Tokenizes and packs a recipe's documents once into a token store. Reading runs on its own thread while the
 * tokenizer encodes batches on all cores, so packing costs little beyond tokenization. The store is built in a
 * temporary folder, its manifest written last, then renamed into place: an interrupted pack never leaves a store
 * that looks complete. A store whose fingerprint (sources, tokenizer hash, special ids, packing, split) matches is
 * reused; any difference rebuilds it.
 */
public final class PackJob {
    public static final int FORMAT = 1;
    private static final int BATCH_DOCS = 256;
    private static final long BATCH_BYTES = 4L << 20;
    private static final List<Document> END = List.of();

    /** What pack did: the opened store, and whether an existing one was reused (with the reason otherwise). */
    public record Result(TokenStore store, boolean reused, String reason) {
    }

    private final DataConfig config;
    private final Consumer<String> log;

    public PackJob(DataConfig config, Consumer<String> log) {
        this.config = config;
        this.log = log;
    }

    /** Loads the tokenizer the config names (the built-in byte-level one when it names none). */
    public static TextTokenizer loadTokenizer(TokenizerSpec spec) {
        return spec.isByteLevel() ? ByteLevelTokenizer.load() : TextTokenizer.load(spec.path());
    }

    public Result run(boolean force) {
        return run(force, false);
    }

    /**
     * @param keepExisting refuse to replace an existing store that no longer matches (a resumed run's data position
     *     refers to it); a missing store is still built
     */
    public Result run(boolean force, boolean keepExisting) {
        requireOwnedStorePath(config.store());
        try (TextTokenizer tokenizer = loadTokenizer(config.tokenizer())) {
            TokenizerSpec.SpecialIds ids = config.tokenizer().resolve(tokenizer);
            Map<String, Object> fingerprint = config.fingerprint(tokenizer.sha256(), ids);
            String reason = staleness(fingerprint);
            if (reason == null && !force) {
                return new Result(TokenStore.open(config.store()), true, "up to date");
            }
            if (force) {
                reason = "forced";
            }
            if (keepExisting && TokenStore.readManifest(config.store()).isPresent()) {
                throw new LongctxException("data: the store " + config.store() + " no longer matches the recipe's "
                        + "data (" + reason + "); the checkpoint's data position refers to the old contents, so it "
                        + "is kept: start over with --restart, or start a new run from the checkpoint's weights");
            }
            log.accept("pack: building " + config.store() + " (" + reason + ")");
            build(tokenizer, ids, fingerprint);
            return new Result(TokenStore.open(config.store()), false, reason);
        }
    }

    /**
     * A store is only ever written where nothing but a longctx store (or nothing at all) is: rebuilding replaces the
     * folder, so a path that holds anything else is refused rather than deleted.
     */
    static void requireOwnedStorePath(Path store) {
        if (!Files.exists(store)) {
            return;
        }
        if (!Files.isDirectory(store)) {
            throw new LongctxException("data.store: " + store + " is a file, not a store folder; longctx will not "
                    + "replace it (name a new or empty folder)");
        }
        try (Stream<Path> entries = Files.list(store)) {
            if (entries.findAny().isEmpty()) {
                return;
            }
        } catch (IOException e) {
            throw new LongctxException("data.store: " + store + ": cannot list (" + e.getMessage() + ")");
        }
        JsonNode manifest = TokenStore.readManifest(store).orElse(null);
        if (manifest == null || !manifest.has("fingerprint") || !manifest.has("splits")) {
            throw new LongctxException("data.store: " + store + " holds files that are not a longctx store; "
                    + "longctx will not delete them (name a new or empty folder)");
        }
    }

    /** Null when the existing store matches, else why it must be rebuilt. */
    private String staleness(Map<String, Object> fingerprint) {
        Optional<JsonNode> found = TokenStore.readManifest(config.store());
        if (found.isEmpty()) {
            return Files.exists(config.store()) ? "no complete store at the path" : "no store yet";
        }
        JsonNode manifest = found.get();
        JsonNode current;
        try {
            // through text, so numbers compare by value whatever Java type produced them
            ObjectMapper mapper = new ObjectMapper();
            current = mapper.readTree(mapper.writeValueAsString(fingerprint));
        } catch (IOException e) {
            throw new LongctxException("pack: cannot compare fingerprints (" + e.getMessage() + ")");
        }
        JsonNode stored = manifest.path("fingerprint");
        if (manifest.path("format").asInt() != FORMAT) {
            return "store format changed";
        }
        List<String> changed = new ArrayList<>();
        current.fieldNames().forEachRemaining(key -> {
            if (!current.get(key).equals(stored.get(key))) {
                changed.add(key);
            }
        });
        return changed.isEmpty() ? null : "changed since the store was built: " + String.join(", ", changed);
    }

    private void build(TextTokenizer tokenizer, TokenizerSpec.SpecialIds ids, Map<String, Object> fingerprint) {
        for (int s = 0; s < config.sources().size(); s++) {
            if (!config.sources().get(s).readsFiles()) {
                RetrievalDocuments.checkLengths(config.sources().get(s).retrieval(), tokenizer,
                        "data.sources[" + s + "]");
            }
        }
        Path target = config.store().toAbsolutePath().normalize();
        Path temp = target.resolveSibling("." + target.getFileName() + ".tmp-" + ProcessHandle.current().pid());
        try {
            deleteTree(temp);
            Files.createDirectories(temp);
            writeTokenizer(temp.resolve(TokenStore.TOKENIZER_DIR));
            int vocab = tokenizer.vocabSize();
            int tokenBytes = vocab <= 65536 ? 2 : 4;
            int seqLen = config.packing().seqLen();
            int perShard = StoreWriter.sequencesPerShard(seqLen, tokenBytes);
            StoreWriter train = new StoreWriter(temp, "train", seqLen, tokenBytes, perShard);
            StoreWriter validation = new StoreWriter(temp, "validation", seqLen, tokenBytes, perShard);
            PackStats trainStats = new PackStats();
            PackStats validationStats = new PackStats();
            Packer trainPacker = Packer.create(config.packing(), ids.pad(), train::accept, trainStats);
            Packer validationPacker = Packer.create(config.packing(), ids.pad(), validation::accept, validationStats);
            Map<String, SourceStats> bySource = new LinkedHashMap<>();
            for (int i = 0; i < config.sources().size(); i++) {
                bySource.put(sourceLabel(i), new SourceStats());
            }
            DocumentSplit split = new DocumentSplit(config.seed(), config.validationFraction());
            long tokens = tokenizeAndPack(tokenizer, ids, bySource, split, trainPacker, validationPacker,
                    trainStats, validationStats);
            trainPacker.finish();
            validationPacker.finish();
            SourceStats sourceStats = new SourceStats();
            List<Map<String, Object>> perSource = new ArrayList<>();
            for (Map.Entry<String, SourceStats> e : bySource.entrySet()) {
                log.accept("pack: " + e.getKey() + ": " + e.getValue().summary());
                sourceStats.add(e.getValue());
                Map<String, Object> entry = new LinkedHashMap<>();
                entry.put("source", e.getKey());
                entry.putAll(e.getValue().toMap());
                perSource.add(entry);
            }
            Map<String, Object> splits = new LinkedHashMap<>();
            splits.put("train", train.finish());
            splits.put("validation", validation.finish());
            if (train.sequences() == 0) {
                throw new LongctxException("pack: no training sequence of " + seqLen + " tokens could be made from "
                        + tokens + " tokens in " + sourceStats.documentsRead() + " documents (" + sourceStats
                        .emptySkipped() + " empty documents skipped); add data, lower packing.seq_len or "
                        + "packing.min_doc_tokens");
            }
            Map<String, Object> manifest = new LinkedHashMap<>();
            manifest.put("format", FORMAT);
            manifest.put("seq_len", seqLen);
            manifest.put("token_bytes", tokenBytes);
            manifest.put("vocab_size", vocab);
            manifest.put("special_ids", ids.toMap());
            manifest.put("fingerprint", fingerprint);
            Map<String, Object> stats = new LinkedHashMap<>();
            stats.put("sources", sourceStats.toMap());
            stats.put("by_source", perSource);
            stats.put("train", trainStats.toMap());
            stats.put("validation", validationStats.toMap());
            manifest.put("stats", stats);
            manifest.put("splits", splits);
            Files.writeString(temp.resolve(TokenStore.MANIFEST), new ObjectMapper()
                    .enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(manifest));
            replace(temp, target);
        } catch (IOException e) {
            throw new LongctxException(target + ": cannot write the store (" + e.getMessage() + ")");
        } finally {
            try {
                deleteTree(temp);
            } catch (IOException ignored) {
                // a leftover temporary folder is harmless: it never looks like a complete store
            }
        }
    }

    private void writeTokenizer(Path dir) throws IOException {
        if (config.tokenizer().isByteLevel()) {
            ByteLevelTokenizer.write(dir);
            return;
        }
        Files.createDirectories(dir);
        Path source = config.tokenizer().path();
        Files.copy(source, dir.resolve(TextTokenizer.FILE_NAME));
        for (String extra : List.of("tokenizer_config.json", "special_tokens_map.json")) {
            Path file = source.toAbsolutePath().getParent().resolve(extra);
            if (Files.isRegularFile(file)) {
                Files.copy(file, dir.resolve(extra));
            }
        }
    }

    /** Reads on a background thread; tokenizes each batch on all cores; frames, splits and packs. */
    private long tokenizeAndPack(TextTokenizer tokenizer, TokenizerSpec.SpecialIds ids,
            Map<String, SourceStats> sourceStats,
            DocumentSplit split, Packer trainPacker, Packer validationPacker, PackStats trainStats,
            PackStats validationStats) {
        BlockingQueue<List<Document>> queue = new ArrayBlockingQueue<>(4);
        RuntimeException[] readerError = new RuntimeException[1];
        Thread reader = new Thread(() -> {
            List<Document> batch = new ArrayList<>();
            long[] bytes = {0};
            try {
                for (int s = 0; s < config.sources().size(); s++) {
                    SourceConfig source = config.sources().get(s);
                    if (!source.readsFiles()) {
                        continue;   // generated after the files, as a share of their training tokens
                    }
                    new DocumentReader(source, sourceStats.get(sourceLabel(s))).read(doc -> {
                        batch.add(doc);
                        bytes[0] += doc.text().length();
                        if (batch.size() >= BATCH_DOCS || bytes[0] >= BATCH_BYTES) {
                            put(queue, new ArrayList<>(batch));
                            batch.clear();
                            bytes[0] = 0;
                        }
                    });
                }
                if (!batch.isEmpty()) {
                    put(queue, batch);
                }
            } catch (RuntimeException e) {
                readerError[0] = e;
            } finally {
                put(queue, END);
            }
        }, "longctx-pack-reader");
        reader.setDaemon(true);
        reader.start();
        Progress progress = Progress.every2s("pack", -1, "tok", log);
        long tokens = 0;
        long documents = 0;
        int[] separator = config.packing().separator();
        int minTokens = config.packing().minDocTokens();
        FillerPool fillerPool = new FillerPool(config.seed());
        long trainTokens = 0;
        while (true) {
            List<Document> batch = take(queue);
            if (batch == END) {
                break;
            }
            List<String> texts = new ArrayList<>(batch.size());
            batch.forEach(d -> texts.add(d.text()));
            int[][] encoded = tokenizer.encodeBatch(texts);
            for (int i = 0; i < encoded.length; i++) {
                boolean validation = split.isValidation(batch.get(i).id());
                PackStats stats = validation ? validationStats : trainStats;
                int[] body = encoded[i];
                tokens += body.length;
                if (body.length == 0 || body.length < minTokens) {
                    stats.skippedShort();
                    continue;
                }
                int[] framed = frame(body, ids, separator);
                (validation ? validationPacker : trainPacker).add(framed, framed.length - body.length);
                if (!validation) {
                    trainTokens += body.length;
                    fillerPool.offer(batch.get(i).text());
                }
            }
            documents += batch.size();
            progress.update(documents, tokens, documents + " docs");
        }
        join(reader);
        if (readerError[0] != null) {
            throw readerError[0];
        }
        tokens += generateRetrieval(tokenizer, ids, sourceStats, fillerPool, trainTokens, trainPacker);
        progress.update(documents, tokens, documents + " docs, done");
        return tokens;
    }

    /**
     * The retrieval sources' documents, training split only: each source generates until its documents hold its
     * fraction of all training tokens (theirs included). Returns the tokens generated.
     */
    private long generateRetrieval(TextTokenizer tokenizer, TokenizerSpec.SpecialIds ids,
            Map<String, SourceStats> sourceStats, FillerPool fillerPool, long fileTokens, Packer trainPacker) {
        double shares = config.sources().stream().filter(s -> !s.readsFiles())
                .mapToDouble(s -> s.retrieval().fraction()).sum();
        long total = 0;
        int[] separator = config.packing().separator();
        for (int s = 0; s < config.sources().size(); s++) {
            SourceConfig source = config.sources().get(s);
            if (source.readsFiles()) {
                continue;
            }
            long target = Math.round(fileTokens * source.retrieval().fraction() / (1 - shares));
            RetrievalDocuments generator = new RetrievalDocuments(source.retrieval(), tokenizer, fillerPool,
                    "data.sources[" + s + "]");
            SourceStats stats = sourceStats.get(sourceLabel(s));
            long made = 0;
            while (made < target) {
                for (RetrievalDocuments.Generated doc : generator.next(BATCH_DOCS)) {
                    if (made >= target) {
                        break;
                    }
                    int[] framed = frame(doc.tokens(), ids, separator);
                    trainPacker.add(framed, framed.length - doc.tokens().length);
                    stats.generated(doc.text().length(), doc.tokens().length);
                    made += doc.tokens().length;
                }
            }
            total += made;
        }
        return total;
    }

    private String sourceLabel(int index) {
        return "data.sources[" + index + "] (" + config.sources().get(index).describe() + ")";
    }

    static int[] frame(int[] body, TokenizerSpec.SpecialIds ids, int[] separator) {
        int bos = ids.addBos() ? 1 : 0;
        int eos = ids.addEos() ? 1 : 0;
        int[] framed = new int[bos + body.length + eos + separator.length];
        if (bos == 1) {
            framed[0] = ids.bos();
        }
        System.arraycopy(body, 0, framed, bos, body.length);
        if (eos == 1) {
            framed[bos + body.length] = ids.eos();
        }
        System.arraycopy(separator, 0, framed, bos + body.length + eos, separator.length);
        return framed;
    }

    private static void put(BlockingQueue<List<Document>> queue, List<Document> batch) {
        try {
            queue.put(batch);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LongctxException("pack: interrupted");
        }
    }

    private static List<Document> take(BlockingQueue<List<Document>> queue) {
        try {
            return queue.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LongctxException("pack: interrupted");
        }
    }

    private static void join(Thread thread) {
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Moves the finished folder into place; an older store at the path is removed only afterwards. */
    private static void replace(Path temp, Path target) throws IOException {
        Path old = null;
        if (Files.exists(target)) {
            old = target.resolveSibling("." + target.getFileName() + ".old-" + ProcessHandle.current().pid());
            deleteTree(old);
            Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
        }
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
        if (old != null) {
            deleteTree(old);
        }
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
