package io.longctx.train;

import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import io.longctx.data.pack.PackedSequence;
import io.longctx.data.store.TokenStore;
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
 * Evaluation during training: validation loss on the first sequences of the validation split, and perplexity of
 * their prefixes at each of the recipe's lengths, all through the chunked output head. One row per evaluation.
 */
final class TrainingEval {
    private final LlamaModel model;
    private final StepRunner runner;
    private final TokenStore store;
    private final EvalConfig config;
    private final MetricsLog evalLog;
    private final Consumer<String> log;

    TrainingEval(LlamaModel model, StepRunner runner, TokenStore store, EvalConfig config, MetricsLog evalLog,
            Consumer<String> log) {
        this.model = model;
        this.runner = runner;
        this.store = store;
        this.config = config;
        this.evalLog = evalLog;
        this.log = log;
    }

    static List<String> columns(EvalConfig config) {
        List<String> columns = new ArrayList<>(List.of("step", "val_loss", "val_ppl"));
        for (int length : config.lengths()) {
            columns.add("ppl_" + length);
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
        } finally {
            JniUtils.setGradMode(grad);
        }
        evalLog.append(row);
        log.accept(line.toString());
    }
}
