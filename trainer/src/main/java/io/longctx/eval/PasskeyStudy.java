package io.longctx.eval;

import io.longctx.LongctxException;
import io.longctx.Progress;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/** Passkey accuracy of one model over a grid of lengths and depths, with passkey.json and a heat map. */
public final class PasskeyStudy {
    private static final int ANSWER_TOKENS = 10;

    private PasskeyStudy() {
    }

    /** accuracy[depth][length]; cells hold every trial's key, answer and decoded output. */
    public record Result(String label, List<Integer> lengths, List<Double> depths, double[][] accuracy,
            List<Map<String, Object>> cells) {
        public double meanAccuracy() {
            double sum = 0;
            for (double[] row : accuracy) {
                for (double v : row) {
                    sum += v;
                }
            }
            return sum / (accuracy.length * accuracy[0].length);
        }
    }

    public static Result run(ModelSession session, List<Integer> lengths, List<Double> depths, int trials, long seed,
            Consumer<String> progressSink) {
        if (session.tokenizer == null) {
            throw new LongctxException(session.dir + ": passkey prompts are text, and the model has no "
                    + "tokenizer.json");
        }
        Generator generator = new Generator(session.model, session.manager);
        double[][] accuracy = new double[depths.size()][lengths.size()];
        List<Map<String, Object>> cells = new ArrayList<>();
        String label = PerplexityStudy.label(session.dir, session.model.ropeScaling());
        Progress progress = Progress.every2s("passkey " + label, (long) lengths.size() * depths.size() * trials,
                "tok", progressSink);
        long done = 0;
        long tokens = 0;
        for (int li = 0; li < lengths.size(); li++) {
            for (int di = 0; di < depths.size(); di++) {
                int[] keys = Passkey.keys(seed + 1000L * lengths.get(li) + di, trials);
                int correct = 0;
                int promptTokens = 0;
                List<Map<String, Object>> answers = new ArrayList<>();
                for (int key : keys) {
                    Passkey.Trial trial = Passkey.trial(session.tokenizer, session.bosId(), lengths.get(li),
                            depths.get(di), key);
                    int[] generated = generator.generate(trial.tokens(), ANSWER_TOKENS, 0.0, 0, -1);
                    String text = session.tokenizer.decode(generated);
                    int answer = Passkey.parseAnswer(text);
                    correct += answer == key ? 1 : 0;
                    promptTokens = trial.tokens().length;
                    Map<String, Object> a = new LinkedHashMap<>();
                    a.put("key", key);
                    a.put("answer", answer);
                    a.put("output", text);
                    answers.add(a);
                    tokens += promptTokens;
                    progress.update(++done, tokens, null);
                }
                accuracy[di][li] = (double) correct / trials;
                Map<String, Object> cell = new LinkedHashMap<>();
                cell.put("length", lengths.get(li));
                cell.put("prompt_tokens", promptTokens);
                cell.put("depth", depths.get(di));
                cell.put("accuracy", accuracy[di][li]);
                cell.put("trials", answers);
                cells.add(cell);
            }
        }
        return new Result(label, List.copyOf(lengths), List.copyOf(depths), accuracy, cells);
    }

    /** passkey.json and the heat map, under the given file-name prefix. */
    public static void write(Path out, String prefix, Result result, long seed) {
        try {
            Files.createDirectories(out);
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("label", result.label());
            json.put("seed", seed);
            json.put("mean_accuracy", result.meanAccuracy());
            json.put("cells", result.cells());
            Files.writeString(out.resolve(prefix + ".json"), JsonText.pretty(json));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<String> columns = result.lengths().stream().map(String::valueOf).toList();
        List<String> rows = result.depths().stream().map(d -> String.format(Locale.ROOT, "depth %.2f", d)).toList();
        Charts.heatMap(out.resolve(prefix + ".png"), "Passkey accuracy: " + result.label(),
                "context length (tokens)", "key depth", columns, rows, result.accuracy());
    }

    public static void printTable(PrintWriter out, Result result) {
        out.println("passkey accuracy (" + result.label() + "), rows depth, columns length");
        out.printf(Locale.ROOT, "%10s", "");
        result.lengths().forEach(l -> out.printf(Locale.ROOT, "%8d", l));
        out.println();
        for (int di = 0; di < result.depths().size(); di++) {
            out.printf(Locale.ROOT, "%10.2f", result.depths().get(di));
            for (int li = 0; li < result.lengths().size(); li++) {
                out.printf(Locale.ROOT, "%7.0f%%", 100 * result.accuracy()[di][li]);
            }
            out.println();
        }
        out.flush();
    }
}
