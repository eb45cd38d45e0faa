package io.longctx.cli;

import io.longctx.eval.JsonText;
import com.fasterxml.jackson.databind.JsonNode;
import io.longctx.LongctxException;
import io.longctx.data.PackBenchmark;
import io.longctx.data.pack.PackedSequence;
import io.longctx.data.store.TokenStore;
import io.longctx.data.tokenize.TextTokenizer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** Inspect packed token stores. */
@Command(name = "data", mixinStandardHelpOptions = true, description = "Inspect and benchmark packed token stores.",
        subcommands = {DataCommand.Stats.class, DataCommand.Show.class, DataCommand.Bench.class})
final class DataCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static String statsTable(TokenStore store) {
        StringBuilder text = new StringBuilder();
        JsonNode m = store.manifest();
        text.append(String.format(Locale.ROOT, "seq_len %d  vocab %d  token bytes %d%n", m.path("seq_len").asInt(),
                m.path("vocab_size").asInt(), m.path("token_bytes").asInt()));
        JsonNode stats = m.path("stats");
        for (Iterator<Map.Entry<String, JsonNode>> it = stats.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> section = it.next();
            text.append(section.getKey()).append(':');
            section.getValue().fields().forEachRemaining(f -> text.append(' ').append(f.getKey()).append('=')
                    .append(f.getValue().isDouble() ? String.format(Locale.ROOT, "%.4f", f.getValue().asDouble())
                            : f.getValue().asText()));
            text.append(System.lineSeparator());
        }
        return text.toString().stripTrailing();
    }

    @Command(name = "stats", mixinStandardHelpOptions = true, description = "Counts of a packed store.")
    static final class Stats implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "STORE")
        Path store;

        @Option(names = "--json", description = "Print the statistics as one JSON object.")
        boolean json;

        @Override
        public Integer call() {
            TokenStore opened = TokenStore.open(store);
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                Map<String, Object> result = new java.util.LinkedHashMap<>();
                result.put("seq_len", opened.seqLen());
                result.put("vocab_size", opened.manifest().path("vocab_size").asInt());
                result.put("stats", opened.manifest().path("stats"));
                out.println(JsonText.compact(result));
            } else {
                out.println(statsTable(opened));
            }
            return 0;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true,
            description = "Decode one sequence of a store with its document boundaries marked.")
    static final class Show implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "STORE")
        Path store;

        @Option(names = "--index", required = true, paramLabel = "I")
        long index;

        @Option(names = "--split", defaultValue = "train", description = "train or validation.")
        String split;

        @Option(names = "--ids", description = "Print token ids instead of text.")
        boolean ids;

        @Override
        public Integer call() {
            TokenStore opened = TokenStore.open(store);
            TokenStore.Split s = opened.split(split);
            if (index < 0 || index >= s.size()) {
                throw new LongctxException("--index " + index + " is outside " + split + " (0.." + (s.size() - 1)
                        + ")");
            }
            PackedSequence sequence = s.sequence(index);
            PrintWriter out = spec.commandLine().getOut();
            out.printf(Locale.ROOT, "%s sequence %d: %d tokens, %d used, documents start at %s%n", split, index,
                    sequence.length(), sequence.used(), Arrays.toString(sequence.docStarts()));
            try (TextTokenizer tokenizer = ids ? null : TextTokenizer.load(opened.tokenizerDir())) {
                int[] starts = sequence.docStarts();
                int next = 0;
                StringBuilder text = new StringBuilder();
                for (int from = 0; from < sequence.used(); ) {
                    while (next < starts.length && starts[next] < from) {
                        next++;
                    }
                    int to = next < starts.length && starts[next] == from
                            ? (next + 1 < starts.length ? starts[next + 1] : sequence.used())
                            : (next < starts.length ? starts[next] : sequence.used());
                    to = Math.min(to, sequence.used());
                    if (next < starts.length && starts[next] == from) {
                        text.append("\n<<<document @").append(from).append(">>>\n");
                    }
                    int[] piece = Arrays.copyOfRange(sequence.tokens(), from, to);
                    text.append(ids ? Arrays.toString(piece) : tokenizer.decode(piece));
                    from = to;
                }
                if (sequence.used() < sequence.length()) {
                    text.append("\n<<<padding x").append(sequence.length() - sequence.used()).append(">>>");
                }
                out.println(text);
            }
            return 0;
        }
    }

    @Command(name = "bench", mixinStandardHelpOptions = true,
            description = "Tokens/s of the tokenizer alone and of the full pack (read, tokenize, pack, write).")
    static final class Bench implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        RecipeOptions recipe;

        @Option(names = "--json", description = "Print one JSON object.")
        boolean json;

        @Override
        public Integer call() {
            PackBenchmark.Result r = PackBenchmark.run(recipe.load().data(), spec.commandLine().getErr()::println);
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                out.println(JsonText.compact(r));
            } else {
                out.printf(Locale.ROOT, "documents %d, tokens %,d%n", r.documents(), r.tokens());
                out.printf(Locale.ROOT, "tokenizer only: %,.0f tokens/s (%.2f s)%n", r.tokenizerTokensPerSecond(),
                        r.tokenizerSeconds());
                out.printf(Locale.ROOT, "full pack:      %,.0f tokens/s (%.2f s)%n", r.packTokensPerSecond(),
                        r.packSeconds());
                out.printf(Locale.ROOT, "pack / tokenizer-only throughput: %.1f%%%n", 100 * r.ratio());
            }
            return 0;
        }
    }
}
