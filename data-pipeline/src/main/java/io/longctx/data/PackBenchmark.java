package io.longctx.data;

import io.longctx.data.source.DocumentReader;
import io.longctx.data.source.SourceConfig;
import io.longctx.data.source.SourceStats;
import io.longctx.data.tokenize.TextTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Measures tokenizer-only throughput (documents already in memory, batch-encoded) against the full pack of the same
 * documents (read, tokenize, split, pack, write and checksum a store in a temporary folder).
 */
public final class PackBenchmark {
    private static final int BATCH = 256;

    public record Result(long documents, long tokens, double tokenizerSeconds, double packSeconds) {
        public double tokenizerTokensPerSecond() {
            return tokens / tokenizerSeconds;
        }

        public double packTokensPerSecond() {
            return tokens / packSeconds;
        }

        public double ratio() {
            return tokenizerSeconds / packSeconds;
        }
    }

    private PackBenchmark() {
    }

    public static Result run(DataConfig config, Consumer<String> log) {
        List<String> texts = new ArrayList<>();
        SourceStats stats = new SourceStats();
        for (SourceConfig source : config.sources()) {
            if (!source.readsFiles()) {
                continue;   // generated documents: nothing to read
            }
            new DocumentReader(source, stats).read(doc -> texts.add(doc.text()));
        }
        long tokens = 0;
        double tokenizerSeconds;
        try (TextTokenizer tokenizer = PackJob.loadTokenizer(config.tokenizer())) {
            tokenizer.encodeBatch(texts.subList(0, Math.min(texts.size(), BATCH)));   // warm-up
            long start = System.nanoTime();
            for (int i = 0; i < texts.size(); i += BATCH) {
                for (int[] ids : tokenizer.encodeBatch(texts.subList(i, Math.min(texts.size(), i + BATCH)))) {
                    tokens += ids.length;
                }
            }
            tokenizerSeconds = (System.nanoTime() - start) / 1e9;
        }
        Path temp;
        try {
            temp = Files.createTempDirectory("longctx-pack-bench");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            DataConfig benchConfig = new DataConfig(config.sources(), config.tokenizer(), config.packing(),
                    config.validationFraction(), config.seed(), temp.resolve("store"));
            long start = System.nanoTime();
            new PackJob(benchConfig, line -> { }).run(true);
            double packSeconds = (System.nanoTime() - start) / 1e9;
            log.accept("bench: " + texts.size() + " documents, " + tokens + " tokens");
            return new Result(texts.size(), tokens, tokenizerSeconds, packSeconds);
        } finally {
            try {
                PackJob.deleteTree(temp);
            } catch (IOException ignored) {
                // temporary folder
            }
        }
    }
}
