package io.longctx.cli;

import io.longctx.LongctxException;
import io.longctx.eval.Charts;
import io.longctx.eval.LengthResult;
import io.longctx.eval.PerplexityEvaluator;
import io.longctx.rope.RopeScaling;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** Perplexity by context length for one or more models and scalings, as a table, results.json and charts. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Sliding-window perplexity at each context length, and mean loss by position in the window.",
                "Every (model, rope scaling) pair is one line of the chart. Writes results.json, perplexity.png "
                        + "and loss-by-position.png to --out."})
final class EvalCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "HF model directory (repeatable).")
    List<Path> models;

    @Option(names = "--data", required = true, arity = "1..*", paramLabel = "PATH",
            description = "Documents: text files (tokenized with the model's tokenizer.json), .ids files, or "
                    + "directories of them.")
    List<Path> data;

    @Option(names = "--lengths", required = true, split = ",", paramLabel = "N,N,...",
            description = "Context lengths (window sizes) to evaluate.")
    List<Integer> lengths;

    @Option(names = "--stride", defaultValue = "256", description = "Window stride (default ${DEFAULT-VALUE}).")
    int stride;

    @Option(names = "--rope-scaling", paramLabel = "JSON",
            description = "A scaling to evaluate (repeatable): model (the config's own), none, an HF rope_scaling "
                    + "JSON object, or a file. Default: model.")
    List<String> ropeScalings;

    @Option(names = "--max-tokens", paramLabel = "N", description = "Use at most the first N tokens of each document.")
    Integer maxTokens;

    @Option(names = "--out", defaultValue = "eval-results", paramLabel = "DIR",
            description = "Output folder (default ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--attention", defaultValue = "sdpa", description = "sdpa (fused) or plain.")
    String attention;

    @Override
    public Integer call() throws IOException {
        validate();
        List<Path> files = expand(data);
        List<Map<String, Object>> variants = new ArrayList<>();
        List<Charts.Series> pplSeries = new ArrayList<>();
        List<Charts.Series> positionSeries = new ArrayList<>();
        PrintWriter printer = spec.commandLine().getOut();
        for (Path modelDir : models) {
            for (String scalingArg : ropeScalings == null ? List.of("model") : ropeScalings) {
                try (ModelSession session = ModelSession.open(modelDir, scalingArg, attention)) {
                    RopeScaling scaling = session.model.ropeScaling();
                    String label = label(modelDir, scaling);
                    List<int[]> docs = documents(session, files);
                    PerplexityEvaluator evaluator = new PerplexityEvaluator(session.model, session.manager,
                            session.bosId(), label, spec.commandLine().getErr()::println);
                    List<LengthResult> results = new ArrayList<>();
                    for (int length : lengths) {
                        results.add(evaluator.evaluate(docs, length, stride));
                    }
                    variants.add(variantJson(label, modelDir, scaling, results));
                    pplSeries.add(new Charts.Series(label, lengths.stream().mapToDouble(i -> i).toArray(),
                            results.stream().mapToDouble(LengthResult::perplexity).toArray()));
                    LengthResult longest = results.get(results.size() - 1);
                    double[] x = new double[longest.positionNll().length];
                    for (int i = 0; i < x.length; i++) {
                        x[i] = (i + 0.5) * longest.bucketWidth();
                    }
                    positionSeries.add(new Charts.Series(label, x, longest.positionNll()));
                    printTable(printer, label, results);
                }
            }
        }
        Files.createDirectories(out);
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("stride", stride);
        json.put("data", files.stream().map(Path::toString).toList());
        json.put("max_tokens", maxTokens);
        json.put("variants", variants);
        Files.writeString(out.resolve("results.json"), Json.pretty(json));
        Charts.line(out.resolve("perplexity.png"), "Perplexity by context length", "context length (tokens)",
                "perplexity", pplSeries, true, true);
        int longest = lengths.get(lengths.size() - 1);
        Charts.line(out.resolve("loss-by-position.png"), "Loss by position in a " + longest + "-token window",
                "position in window", "mean NLL (nats)", positionSeries, false, false);
        printer.println("wrote " + out.resolve("results.json") + ", " + out.resolve("perplexity.png") + ", "
                + out.resolve("loss-by-position.png"));
        return 0;
    }

    private void validate() {
        for (int length : lengths) {
            if (length < 2) {
                throw new LongctxException("--lengths: each length must be at least 2, got " + length);
            }
        }
        if (stride <= 0) {
            throw new LongctxException("--stride must be positive, got " + stride);
        }
        if (maxTokens != null && maxTokens <= 1) {
            throw new LongctxException("--max-tokens must be above 1, got " + maxTokens);
        }
    }

    private List<int[]> documents(ModelSession session, List<Path> files) {
        List<int[]> docs = new ArrayList<>();
        for (Path file : files) {
            int[] ids = TokenInput.document(session, file);
            session.model.checkIds(ids);
            docs.add(maxTokens != null && ids.length > maxTokens ? Arrays.copyOf(ids, maxTokens) : ids);
        }
        return docs;
    }

    static List<Path> expand(List<Path> paths) throws IOException {
        List<Path> files = new ArrayList<>();
        for (Path path : paths) {
            if (Files.isDirectory(path)) {
                try (Stream<Path> walk = Files.walk(path)) {
                    walk.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().startsWith("."))
                            .sorted().forEach(files::add);
                }
            } else if (Files.isRegularFile(path)) {
                files.add(path);
            } else {
                throw new LongctxException(path + ": not found");
            }
        }
        if (files.isEmpty()) {
            throw new LongctxException("--data: no documents found in " + paths);
        }
        return files;
    }

    static String label(Path modelDir, RopeScaling scaling) {
        String name = modelDir.toAbsolutePath().normalize().getFileName().toString();
        return scaling.factor() == 1.0 && scaling.ropeType().equals("default") ? name
                : String.format(Locale.ROOT, "%s %s x%s", name, scaling.ropeType(), trim(scaling.factor()));
    }

    private static String trim(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }

    private static Map<String, Object> variantJson(String label, Path modelDir, RopeScaling scaling,
            List<LengthResult> results) {
        Map<String, Object> variant = new LinkedHashMap<>();
        variant.put("label", label);
        variant.put("model", modelDir.toString());
        variant.put("rope_type", scaling.ropeType());
        variant.put("rope_scaling", scaling.toHfRopeScaling());
        variant.put("factor", scaling.factor());
        List<Map<String, Object>> rows = new ArrayList<>();
        for (LengthResult r : results) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("length", r.length());
            row.put("perplexity", finiteOrNull(r.perplexity()));
            row.put("mean_nll", finiteOrNull(r.meanNll()));
            row.put("tokens_scored", r.tokensScored());
            row.put("documents", r.documents());
            row.put("skipped_documents", r.skippedDocuments());
            Map<String, Object> positions = new LinkedHashMap<>();
            positions.put("bucket_width", r.bucketWidth());
            positions.put("mean_nll", Arrays.stream(r.positionNll()).mapToObj(EvalCommand::finiteOrNull).toList());
            row.put("loss_by_position", positions);
            rows.add(row);
        }
        variant.put("lengths", rows);
        return variant;
    }

    private static Double finiteOrNull(double v) {
        return Double.isFinite(v) ? v : null;
    }

    private static void printTable(PrintWriter out, String label, List<LengthResult> results) {
        out.println(label);
        out.printf(Locale.ROOT, "  %8s  %12s  %10s  %12s  %s%n", "length", "perplexity", "mean_nll", "tokens",
                "documents");
        for (LengthResult r : results) {
            out.printf(Locale.ROOT, "  %8d  %12.4f  %10.5f  %12d  %d%s%n", r.length(), r.perplexity(), r.meanNll(),
                    r.tokensScored(), r.documents(),
                    r.skippedDocuments() > 0 ? " (" + r.skippedDocuments() + " shorter than the window left out)"
                            : "");
        }
        out.flush();
    }
}
