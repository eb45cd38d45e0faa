package io.longctx.eval;

import ai.djl.ndarray.NDManager;
import io.longctx.Progress;
import io.longctx.model.LlamaModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * Perplexity at a context length under an {@link EvalProtocol} (sliding windows or one truncated window per
 * document; per-token or per-window mean), plus mean loss by position inside the window from disjoint full windows.
 * Each window starts with BOS when the model has one.
 */
public final class PerplexityEvaluator {
    /** Position buckets per length in the loss-by-position curve. */
    public static final int POSITION_BUCKETS = 32;

    /** NLL of tokens[from..] given what precedes each, one value per scored token. */
    @FunctionalInterface
    public interface WindowScorer {
        double[] nll(int[] tokens, int from);
    }

    private final WindowScorer scorer;
    private final Integer bosId;
    private final String label;
    private final Consumer<String> progressSink;

    public PerplexityEvaluator(LlamaModel model, NDManager scope, Integer bosId, String label,
            Consumer<String> progressSink) {
        this(new TokenScorer(model, scope)::nll, bosId, label, progressSink);
    }

    public PerplexityEvaluator(WindowScorer scorer, Integer bosId, String label, Consumer<String> progressSink) {
        this.scorer = scorer;
        this.bosId = bosId;
        this.label = label;
        this.progressSink = progressSink;
    }

    /** Evaluates at one length; a stride longer than the window is shortened to the window. */
    public LengthResult evaluate(List<int[]> documents, int length, EvalProtocol protocol) {
        int offset = bosId == null ? 0 : 1;
        int span = length - offset;
        int firstScorable = 1 - offset;
        int stride = Math.min(protocol.stride(), SlidingWindows.maxStride(span, firstScorable));
        java.util.function.Function<int[], List<SlidingWindows.Window>> windowsOf =
                protocol.windows() == EvalProtocol.Windows.SLIDING
                        ? doc -> SlidingWindows.plan(doc.length, span, stride, firstScorable)
                        : doc -> SlidingWindows.disjoint(doc.length, span, firstScorable).subList(0, 1);
        List<int[]> usable = new ArrayList<>();
        for (int[] doc : documents) {
            if (doc.length >= span) {
                usable.add(doc);
            }
        }
        int bucketWidth = Math.max(1, (length + POSITION_BUCKETS - 1) / POSITION_BUCKETS);
        int buckets = (length + bucketWidth - 1) / bucketWidth;
        double[] bucketSum = new double[buckets];
        long[] bucketCount = new long[buckets];
        long total = 0;
        for (int[] doc : usable) {
            total += windowsOf.apply(doc).size() + SlidingWindows.disjoint(doc.length, span, firstScorable).size();
        }
        Progress progress = Progress.every2s(label + " L=" + length, total, "tok", progressSink);
        long done = 0;
        long tokensSeen = 0;
        double nllSum = 0;
        long scored = 0;
        double windowMeanSum = 0;
        long windows = 0;
        for (int[] doc : usable) {
            for (SlidingWindows.Window w : windowsOf.apply(doc)) {
                double[] nll = scoreWindow(doc, w, offset);
                double windowSum = 0;
                for (double v : nll) {
                    windowSum += v;
                }
                nllSum += windowSum;
                scored += nll.length;
                windowMeanSum += windowSum / nll.length;
                windows++;
                tokensSeen += w.end() - w.begin() + offset;
                progress.update(++done, tokensSeen, String.format(Locale.ROOT, "ppl %.3f",
                        Math.exp(nllSum / Math.max(1, scored))));
            }
            for (SlidingWindows.Window w : SlidingWindows.disjoint(doc.length, span, firstScorable)) {
                double[] nll = scoreWindow(doc, w, offset);
                int firstPosition = w.scoreFrom() - w.begin() + offset;
                for (int i = 0; i < nll.length; i++) {
                    int bucket = (firstPosition + i) / bucketWidth;
                    bucketSum[bucket] += nll[i];
                    bucketCount[bucket]++;
                }
                tokensSeen += w.end() - w.begin() + offset;
                progress.update(++done, tokensSeen, null);
            }
        }
        double[] positionNll = new double[buckets];
        for (int i = 0; i < buckets; i++) {
            positionNll[i] = bucketCount[i] == 0 ? Double.NaN : bucketSum[i] / bucketCount[i];
        }
        double meanNll = protocol.aggregate() == EvalProtocol.Aggregate.TOKENS ? nllSum / scored
                : windowMeanSum / windows;
        return new LengthResult(length, usable.size(), documents.size() - usable.size(), scored,
                scored == 0 ? Double.NaN : meanNll, bucketWidth, positionNll);
    }

    /** NLL of the window's scored targets; the window's input is [BOS] + doc[begin, end). */
    private double[] scoreWindow(int[] doc, SlidingWindows.Window w, int offset) {
        int[] tokens = new int[w.end() - w.begin() + offset];
        if (offset == 1) {
            tokens[0] = bosId;
        }
        System.arraycopy(doc, w.begin(), tokens, offset, w.end() - w.begin());
        return scorer.nll(tokens, w.scoreFrom() - w.begin() + offset);
    }
}
