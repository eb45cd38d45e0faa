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

    /**
     * accuracy[row][length] (NaN where a random-depth bin got no trial); cells hold every trial's key, depth, answer
     * and decoded output.
     */
    public record Result(String label, List<Integer> lengths, PasskeyDepths depths, boolean task,
            double[][] accuracy, List<Map<String, Object>> cells, int correct, int trials) {
        public List<Double> rows() {
            return depths.rows();
        }

        /** Correct trials over all trials. */
        public double meanAccuracy() {
            return trials == 0 ? Double.NaN : (double) correct / trials;
        }

        /** Accuracy of each depth row at one length (NaN where a random-depth bin got no trial). */
        public double[] accuracyByDepthAt(int length) {
            int column = lengths.indexOf(length);
            double[] out = new double[rows().size()];
            for (int r = 0; r < out.length; r++) {
                out[r] = column < 0 ? Double.NaN : accuracy[r][column];
            }
            return out;
        }

        /** Correct over all trials at one length. */
        public double accuracyAt(int length) {
            int right = 0;
            int all = 0;
            for (Map<String, Object> cell : cells) {
                if (cell.get("length").equals(length)) {
                    right += (Integer) cell.get("correct");
                    all += (Integer) cell.get("count");
                }
            }
            return all == 0 ? Double.NaN : (double) right / all;
        }
    }

    /**
     * @param task whether prompts open with YaRN's task description
     * @param trials per length and grid depth, or per length with random depths
     */
    public static Result run(ModelSession session, List<Integer> lengths, PasskeyDepths depths, boolean task,
            int trials, long seed, Consumer<String> progressSink) {
        if (session.tokenizer == null) {
            throw new LongctxException(session.dir + ": passkey prompts are text, and the model has no "
                    + "tokenizer.json");
        }
        return run(session.model, session.manager, session.tokenizer, session.bosId(),
                PerplexityStudy.label(session.dir, session.model.ropeScaling()), lengths, depths, task, trials, seed,
                progressSink);
    }

    /** The study on a model in memory (a session's, or the one being trained). */
    public static Result run(io.longctx.model.LlamaModel model, ai.djl.ndarray.NDManager manager,
            io.longctx.data.tokenize.TextTokenizer tokenizer, Integer bosId, String label, List<Integer> lengths,
            PasskeyDepths depths, boolean task, int trials, long seed, Consumer<String> progressSink) {
        Generator generator = new Generator(model, manager);
        int rows = depths.rows().size();
        double[][] accuracy = new double[rows][lengths.size()];
        List<Map<String, Object>> cells = new ArrayList<>();
        int perLength = depths.isRandom() ? trials : trials * rows;
        Progress progress = Progress.every2s("passkey " + label, (long) lengths.size() * perLength, "tok",
                progressSink);
        long done = 0;
        long tokens = 0;
        int correctAll = 0;
        for (int li = 0; li < lengths.size(); li++) {
            int length = lengths.get(li);
            java.util.SplittableRandom random = new java.util.SplittableRandom(seed + 1000L * length);
            int[] correct = new int[rows];
            int[] count = new int[rows];
            List<List<Map<String, Object>>> answers = new ArrayList<>();
            for (int r = 0; r < rows; r++) {
                answers.add(new ArrayList<>());
            }
            for (int t = 0; t < perLength; t++) {
                int gridIndex = depths.isRandom() ? -1 : t / trials;
                int key = 1 + random.nextInt(Passkey.MAX_KEY);
                double depth = depths.isRandom() ? random.nextDouble() : depths.grid().get(gridIndex);
                Passkey.Trial trial = Passkey.trial(tokenizer, bosId, task, length, depth, key);
                int[] generated = generator.generate(trial.tokens(), ANSWER_TOKENS, 0.0, 0, -1);
                String text = tokenizer.decode(generated);
                int answer = Passkey.parseAnswer(text);
                int row = depths.rowOf(gridIndex, trial.depth());
                boolean right = answer == key;
                correct[row] += right ? 1 : 0;
                correctAll += right ? 1 : 0;
                count[row]++;
                Map<String, Object> a = new LinkedHashMap<>();
                a.put("key", key);
                a.put("depth", trial.depth());
                a.put("prompt_tokens", trial.tokens().length);
                a.put("answer", answer);
                a.put("output", text);
                answers.get(row).add(a);
                tokens += trial.tokens().length;
                progress.update(++done, tokens, null);
            }
            for (int r = 0; r < rows; r++) {
                accuracy[r][li] = count[r] == 0 ? Double.NaN : (double) correct[r] / count[r];
                Map<String, Object> cell = new LinkedHashMap<>();
                cell.put("length", length);
                cell.put("depth", depths.rows().get(r));
                cell.put("accuracy", count[r] == 0 ? null : accuracy[r][li]);
                cell.put("correct", correct[r]);
                cell.put("count", count[r]);
                cell.put("trials", answers.get(r));
                cells.add(cell);
            }
        }
        return new Result(label, List.copyOf(lengths), depths, task, accuracy, cells, correctAll,
                lengths.size() * perLength);
    }

    /** passkey.json and the heat map, under the given file-name prefix. */
    public static void write(Path out, String prefix, Result result, long seed) {
        try {
            Files.createDirectories(out);
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("label", result.label());
            json.put("protocol", Passkey.protocol(result.task()));
            json.put("depths", result.depths().describe());
            json.put("seed", seed);
            json.put("mean_accuracy", result.meanAccuracy());
            json.put("cells", result.cells());
            Files.writeString(out.resolve(prefix + ".json"), JsonText.pretty(json));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        drawHeatMaps(out.resolve(prefix + ".png"), null, List.of(result));
    }

    /**
     * The heat maps of results over the same lengths and depths, side by side.
     *
     * @param title over all panels, or null for one result titled by its label
     */
    public static void drawHeatMaps(Path png, String title, List<Result> results) {
        Result first = results.get(0);
        List<String> columns = first.lengths().stream().map(String::valueOf).toList();
        List<String> rows = first.rows().stream().map(d -> String.format(Locale.ROOT,
                first.depths().isRandom() ? "depth ~%.2f" : "depth %.2f", d)).toList();
        List<Charts.Grid> grids = results.stream().map(r -> new Charts.Grid(
                (title == null ? "Passkey accuracy: " : "") + r.label(), r.accuracy())).toList();
        Charts.heatMaps(png, title, "context length (tokens)", "key depth", columns, rows, grids);
    }


    public static void printTable(PrintWriter out, Result result) {
        out.println("passkey accuracy (" + result.label() + "), rows depth (" + result.depths().describe()
                + "), columns length");
        out.printf(Locale.ROOT, "%10s", "");
        result.lengths().forEach(l -> out.printf(Locale.ROOT, "%8d", l));
        out.println();
        for (int di = 0; di < result.rows().size(); di++) {
            out.printf(Locale.ROOT, "%10.2f", result.rows().get(di));
            for (int li = 0; li < result.lengths().size(); li++) {
                double v = result.accuracy()[di][li];
                out.print(Double.isNaN(v) ? "       -" : String.format(Locale.ROOT, "%7.0f%%", 100 * v));
            }
            out.println();
        }
        out.flush();
    }
}
