package io.longctx.gguf;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import io.longctx.engine.Tensors;
import io.longctx.eval.Generator;
import io.longctx.model.LlamaModel;
import java.util.Arrays;
import java.util.Locale;

/**
 * How closely llama.cpp's next-token distributions on an exported file follow longctx's own on the same ids: the
 * largest |log p difference| over every entry either side puts above {@link #FLOOR} (smaller probabilities
 * underflow in llama.cpp's float32 softmax), how many argmaxes agree, and both greedy continuations.
 */
public record ExportAgreement(double maxAbsLogProbDifference, int argmaxAgreements, int positions, int[] greedyOurs,
        int[] greedyLlamaCpp) {

    /** Log-probabilities below this are left out of the comparison. */
    public static final double FLOOR = -30;
    private static final int CHUNK = 128;

    public boolean greedyIdentical() {
        return Arrays.equals(greedyOurs, greedyLlamaCpp);
    }

    /** The line the demo report and verify-export print. */
    public String summary() {
        return String.format(Locale.ROOT, "max |delta log p| = %.2e over %d positions, argmax agrees at %d/%d, "
                + "greedy tokens identical: %s (%d tokens)", maxAbsLogProbDifference, positions, argmaxAgreements,
                positions, greedyIdentical() ? "yes" : "no", greedyOurs.length);
    }

    /**
     * Runs llama.cpp on the file (its request and result files in a temporary folder, removed afterwards) and
     * compares it with longctx's model on the same ids.
     */
    public static ExportAgreement check(LlamaCppCheck llamaCpp, LlamaModel model, NDManager manager,
            java.nio.file.Path gguf, int[] ids, int greedyTokens) {
        model.checkIds(ids);
        java.nio.file.Path work;
        try {
            work = java.nio.file.Files.createTempDirectory("longctx-llama-cpp");
        } catch (java.io.IOException e) {
            throw new io.longctx.LongctxException("cannot create a temporary folder (" + e.getMessage() + ")");
        }
        try {
            LlamaCppCheck.Result theirs = llamaCpp.run(gguf, model.config().vocabSize(), ids, greedyTokens, null,
                    work);
            return measure(model, manager, ids, theirs);
        } finally {
            try (java.util.stream.Stream<java.nio.file.Path> files = java.nio.file.Files.list(work)) {
                for (java.nio.file.Path f : files.toList()) {
                    java.nio.file.Files.deleteIfExists(f);
                }
                java.nio.file.Files.deleteIfExists(work);
            } catch (java.io.IOException ignored) {
                // a leftover temporary folder is harmless
            }
        }
    }

    /** Compares longctx's model on ids with what llama.cpp computed for them. */
    public static ExportAgreement measure(LlamaModel model, NDManager manager, int[] ids, LlamaCppCheck.Result theirs) {
        int vocab = model.config().vocabSize();
        if (theirs.vocabSize() != vocab || theirs.positions() != ids.length) {
            throw new io.longctx.LongctxException("llama.cpp answered for " + theirs.positions() + " positions x "
                    + theirs.vocabSize() + " tokens, longctx has " + ids.length + " x " + vocab);
        }
        double worst = 0;
        int agreements = 0;
        try (NDManager scope = manager.newSubManager()) {
            NDArray hidden = model.hidden(scope, Tensors.tokenRow(scope, ids, 0, ids.length), null); // (1, T, H)
            for (int from = 0; from < ids.length; from += CHUNK) {
                int to = Math.min(ids.length, from + CHUNK);
                float[] logits;
                try (NDManager chunk = scope.newSubManager()) {
                    NDArray slice = hidden.get(new NDIndex(":, " + from + ":" + to));           // (1, c, H)
                    logits = Tensors.floats(model.head(slice));                                  // (1, c, V)
                }
                float[] probabilities = theirs.rows(from, to);
                for (int row = 0; row < to - from; row++) {
                    double[] ours = logSoftmax(logits, row * vocab, vocab);
                    int ourBest = 0;
                    int theirBest = 0;
                    for (int v = 0; v < vocab; v++) {
                        double their = Math.log(probabilities[row * vocab + v]);
                        if (ours[v] > FLOOR || their > FLOOR) {
                            worst = Math.max(worst, Math.abs(ours[v] - their));
                        }
                        ourBest = ours[v] > ours[ourBest] ? v : ourBest;
                        theirBest = probabilities[row * vocab + v] > probabilities[row * vocab + theirBest] ? v
                                : theirBest;
                    }
                    agreements += ourBest == theirBest ? 1 : 0;
                }
            }
            int[] greedy = theirs.greedy().length == 0 ? new int[0]
                    : new Generator(model, scope).generate(ids, theirs.greedy().length, 0, 0, -1);
            return new ExportAgreement(worst, agreements, ids.length, greedy, theirs.greedy());
        }
    }

    private static double[] logSoftmax(float[] logits, int offset, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, logits[offset + i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(logits[offset + i] - max);
        }
        double log = max + Math.log(sum);
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = logits[offset + i] - log;
        }
        return out;
    }
}
