package io.longctx.train;

import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import io.longctx.data.pack.PackedSequence;
import io.longctx.data.store.TokenStore;
import io.longctx.data.tokenize.TextTokenizer;
import io.longctx.eval.Charts;
import io.longctx.eval.PasskeyDepths;
import io.longctx.eval.PasskeyStudy;
import io.longctx.eval.TokenScorer;
import io.longctx.model.LlamaModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Evaluation during training: validation loss on the first sequences of the validation split, perplexity of their
 * prefixes at each of the recipe's lengths (all through the chunked output head), and passkey retrieval at the
 * recipe's prompt lengths (the same seeded prompts every time). One row per evaluation in eval.csv/eval.jsonl, and
 * eval.png in the run folder charts them by step.
 */
final class TrainingEval {
    private final LlamaModel model;
    private final StepRunner runner;
    private final TokenStore store;
    private final EvalConfig config;
    private final MetricsLog evalLog;
    private final Consumer<String> log;
    private final java.nio.file.Path chart;
    private final long seed;

    /**
     * @param chart the PNG redrawn after each evaluation
     * @param seed the passkey prompts' seed
     */
    TrainingEval(LlamaModel model, StepRunner runner, TokenStore store, EvalConfig config, MetricsLog evalLog,
            Consumer<String> log, java.nio.file.Path chart, long seed) {
        this.model = model;
        this.runner = runner;
        this.store = store;
        this.config = config;
        this.evalLog = evalLog;
        this.log = log;
        this.chart = chart;
        this.seed = seed;
    }

    static List<String> columns(EvalConfig config) {
        List<String> columns = new ArrayList<>(List.of("step", "val_loss", "val_ppl"));
        for (int length : config.lengths()) {
            columns.add("ppl_" + length);
        }
        if (config.passkey() != null) {
            for (int length : config.passkey().lengths()) {
                columns.add("passkey_" + length);
            }
        }
        return columns;
    }

    boolean due(int step) {
        return config.every() > 0 && step % config.every() == 0;
    }

    void run(NDManager manager, int step) {
        if (!store.hasSplit("validation")) {
            log.accept("eval: no validation sequences (data.validation_fraction is 0 or too small)");
            return;
        }
        TokenStore.Split validation = store.split("validation");
        int n = (int) Math.min(config.batches(), validation.size());
        List<PackedSequence> sequences = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            sequences.add(validation.sequence(i));
        }
        double nll = 0;
        for (PackedSequence s : sequences) {
            nll += runner.loss(manager, List.of(s));
        }
        double valLoss = nll / Math.max(1, StepRunner.lossTokens(sequences));
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("step", step);
        row.put("val_loss", valLoss);
        row.put("val_ppl", Math.exp(valLoss));
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "eval step %d: val_loss %.4f ppl %.3f",
                step, valLoss, Math.exp(valLoss)));
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            TokenScorer scorer = new TokenScorer(model, manager);
            for (int length : config.lengths()) {
                double sum = 0;
                long count = 0;
                for (PackedSequence s : sequences) {
                    double[] values = scorer.nll(Arrays.copyOf(s.tokens(), Math.min(length, s.used())));
                    for (double v : values) {
                        sum += v;
                    }
                    count += values.length;
                }
                double ppl = Math.exp(sum / Math.max(1, count));
                row.put("ppl_" + length, ppl);
                line.append(String.format(Locale.ROOT, " ppl@%d %.3f", length, ppl));
            }
            if (config.passkey() != null) {
                passkey(manager, step, row, line);
            }
        } finally {
            JniUtils.setGradMode(grad);
        }
        evalLog.append(row);
        log.accept(line.toString());
        drawChart();
    }

    private void passkey(NDManager manager, int step, Map<String, Object> row, StringBuilder line) {
        try (TextTokenizer tokenizer = TextTokenizer.load(store.tokenizerDir())) {
            PasskeyStudy.Result result = PasskeyStudy.run(model, manager, tokenizer, model.config().bosTokenId(),
                    "step " + step, config.passkey().lengths(), PasskeyDepths.random(5), config.passkey().task(), config.passkey().trials(),
                    seed, progress -> { });
            for (int length : config.passkey().lengths()) {
                double accuracy = result.accuracyAt(length);
                row.put("passkey_" + length, accuracy);
                line.append(String.format(Locale.ROOT, " passkey@%d %.0f%%", length, 100 * accuracy));
            }
        }
    }

    /** Validation perplexity (and perplexity by length) above, passkey accuracy below, by step. */
    private void drawChart() {
        List<Map<String, Object>> rows = evalLog.rows();
        double[] steps = rows.stream().mapToDouble(r -> number(r.get("step"))).toArray();
        List<Charts.Series> perplexity = new ArrayList<>(List.of(series("validation", rows, steps, "val_ppl")));
        for (int length : config.lengths()) {
            perplexity.add(series("length " + length, rows, steps, "ppl_" + length));
        }
        List<Charts.Panel> panels = new ArrayList<>(List.of(new Charts.Panel("perplexity", perplexity, true)));
        if (config.passkey() != null) {
            List<Charts.Series> accuracy = new ArrayList<>();
            for (int length : config.passkey().lengths()) {
                accuracy.add(series("passkey at " + length, rows, steps, "passkey_" + length));
            }
            panels.add(new Charts.Panel("passkey accuracy", accuracy, false));
        }
        Charts.panels(chart, "Evaluation during training", "step", panels);
    }

    private static Charts.Series series(String name, List<Map<String, Object>> rows, double[] steps, String key) {
        return new Charts.Series(name, steps, rows.stream().mapToDouble(r -> number(r.get(key))).toArray());
    }

    private static double number(Object value) {
        return value instanceof Number n ? n.doubleValue() : Double.NaN;
    }
}
