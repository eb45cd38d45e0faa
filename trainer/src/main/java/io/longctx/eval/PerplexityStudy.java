package io.longctx.eval;

import io.longctx.LongctxException;
import io.longctx.rope.RopeScaling;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Perplexity by context length for several variants (a model, optionally with another RoPE scaling) on the same
 * documents, with results.json, a perplexity-vs-length chart and a loss-by-position chart.
 */
public final class PerplexityStudy {
    private PerplexityStudy() {
    }

    /**
     * @param ropeScaling a --rope-scaling value (model, none, JSON, file), or null for the model's own scaling
     */
    public record Variant(Path model, String ropeScaling) {
    }

    public record VariantResult(String label, Path model, RopeScaling scaling, List<LengthResult> lengths) {
        public double perplexityAt(int length) {
            return lengths.stream().filter(r -> r.length() == length).mapToDouble(LengthResult::perplexity)
                    .findFirst().orElse(Double.NaN);
        }
    }

    public static List<VariantResult> run(List<Variant> variants, List<Path> dataFiles, List<Integer> lengths,
            EvalProtocol protocol, Integer maxTokens, String attention, io.longctx.engine.Precision precision,
            Consumer<String> progress) {
        List<VariantResult> results = new ArrayList<>();
        for (Variant variant : variants) {
            try (ModelSession session = ModelSession.open(variant.model(), variant.ropeScaling(), attention,
                    precision)) {
                RopeScaling scaling = session.model.ropeScaling();
                String label = label(variant.model(), scaling);
                List<int[]> docs = new ArrayList<>();
                for (Path file : dataFiles) {
                    int[] ids = TokenInput.document(session, file);
                    session.model.checkIds(ids);
                    docs.add(maxTokens != null && ids.length > maxTokens ? Arrays.copyOf(ids, maxTokens) : ids);
                }
                PerplexityEvaluator evaluator = new PerplexityEvaluator(session.model, session.manager,
                        session.bosId(), label, progress);
                List<LengthResult> rows = new ArrayList<>();
                for (int length : lengths) {
                    rows.add(evaluator.evaluate(docs, length, protocol));
                }
                results.add(new VariantResult(label, variant.model(), scaling, rows));
            }
        }
        return results;
    }

    /** Files under the given paths (directories walked, sorted); fails when there are none. */
    public static List<Path> expand(List<Path> paths) {
        List<Path> files = new ArrayList<>();
        for (Path path : paths) {
            if (Files.isDirectory(path)) {
                try (Stream<Path> walk = Files.walk(path)) {
                    walk.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().startsWith("."))
                            .sorted().forEach(files::add);
                } catch (IOException e) {
                    throw new LongctxException(path + ": cannot list (" + e.getMessage() + ")");
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

    public static String label(Path modelDir, RopeScaling scaling) {
        String name = modelDir.toAbsolutePath().normalize().getFileName().toString();
        if (scaling.factor() == 1.0 && scaling.ropeType().equals("default")) {
            return name;
        }
        double f = scaling.factor();
        return String.format(Locale.ROOT, "%s %s x%s", name, scaling.ropeType(),
                f == Math.rint(f) ? Long.toString((long) f) : Double.toString(f));
    }

    /** results.json, perplexity.png and loss-by-position.png (at the longest length). */
    public static void write(Path out, List<VariantResult> results, EvalProtocol protocol, List<Path> files,
            Integer maxTokens) {
        try {
            Files.createDirectories(out);
            Map<String, Object> json = new LinkedHashMap<>();
            json.putAll(protocol.toMap());
            json.put("data", files.stream().map(Path::toString).toList());
            json.put("max_tokens", maxTokens);
            json.put("variants", results.stream().map(PerplexityStudy::variantJson).toList());
            Files.writeString(out.resolve("results.json"), JsonText.pretty(json));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Charts.Series> ppl = new ArrayList<>();
        List<Charts.Series> positions = new ArrayList<>();
        for (VariantResult r : results) {
            ppl.add(new Charts.Series(r.label(), r.lengths().stream().mapToDouble(LengthResult::length).toArray(),
                    r.lengths().stream().mapToDouble(LengthResult::perplexity).toArray()));
            LengthResult longest = r.lengths().get(r.lengths().size() - 1);
            double[] x = new double[longest.positionNll().length];
            for (int i = 0; i < x.length; i++) {
                x[i] = (i + 0.5) * longest.bucketWidth();
            }
            positions.add(new Charts.Series(r.label(), x, longest.positionNll()));
        }
        Charts.line(out.resolve("perplexity.png"), "Perplexity by context length: " + protocol.shortName(),
                "context length (tokens)",
                "perplexity", ppl, true, true);
        int longest = results.get(0).lengths().get(results.get(0).lengths().size() - 1).length();
        Charts.line(out.resolve("loss-by-position.png"), "Loss by position in a " + longest + "-token window",
                "position in window", "mean NLL (nats)", positions, false, false);
    }

    private static Map<String, Object> variantJson(VariantResult r) {
        Map<String, Object> variant = new LinkedHashMap<>();
        variant.put("label", r.label());
        variant.put("model", r.model().toString());
        variant.put("rope_type", r.scaling().ropeType());
        variant.put("rope_scaling", r.scaling().toMap());
        variant.put("factor", r.scaling().factor());
        List<Map<String, Object>> rows = new ArrayList<>();
        for (LengthResult l : r.lengths()) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("length", l.length());
            row.put("perplexity", finiteOrNull(l.perplexity()));
            row.put("mean_nll", finiteOrNull(l.meanNll()));
            row.put("tokens_scored", l.tokensScored());
            row.put("documents", l.documents());
            row.put("skipped_documents", l.skippedDocuments());
            Map<String, Object> position = new LinkedHashMap<>();
            position.put("bucket_width", l.bucketWidth());
            position.put("mean_nll", Arrays.stream(l.positionNll()).mapToObj(PerplexityStudy::finiteOrNull).toList());
            row.put("loss_by_position", position);
            rows.add(row);
        }
        variant.put("lengths", rows);
        return variant;
    }

    private static Double finiteOrNull(double v) {
        return Double.isFinite(v) ? v : null;
    }

    public static void printTable(PrintWriter out, VariantResult r, EvalProtocol protocol) {
        out.println(r.label() + " (" + protocol.describe() + ")");
        out.printf(Locale.ROOT, "  %8s  %12s  %10s  %12s  %s%n", "length", "perplexity", "mean_nll", "tokens",
                "documents");
        for (LengthResult l : r.lengths()) {
            if (l.tokensScored() == 0) {
                out.printf(Locale.ROOT, "  %8d  %12s  %10s  %12d  0 (no document holds %d tokens)%n", l.length(),
                        "n/a", "n/a", 0, l.length());
                continue;
            }
            out.printf(Locale.ROOT, "  %8d  %12.4f  %10.5f  %12d  %d%s%n", l.length(), l.perplexity(), l.meanNll(),
                    l.tokensScored(), l.documents(), l.skippedDocuments() > 0 ? " (" + l.skippedDocuments()
                            + " shorter than the window left out)" : "");
        }
        out.flush();
    }
}
