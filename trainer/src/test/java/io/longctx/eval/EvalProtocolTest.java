package io.longctx.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Each protocol and aggregate on three documents worked out by hand, with a scorer whose NLL for a target is the
 * target's value, so every perplexity is exp of a plain average of listed numbers.
 */
class EvalProtocolTest {
    // A (6 tokens), B (4), C (5), D (3, shorter than every window here: left out)
    private static final List<int[]> DOCS = List.of(new int[] {1, 2, 3, 4, 5, 6}, new int[] {10, 20, 30, 40},
            new int[] {2, 2, 2, 2, 2}, new int[] {9, 9, 9});

    private static final PerplexityEvaluator.WindowScorer TARGET_VALUE = (tokens, from) -> {
        double[] out = new double[tokens.length - from];
        for (int i = from; i < tokens.length; i++) {
            out[i - from] = tokens[i];
        }
        return out;
    };

    private static LengthResult evaluate(Integer bos, EvalProtocol.Windows windows, EvalProtocol.Aggregate aggregate) {
        return new PerplexityEvaluator(TARGET_VALUE, bos, "test", line -> { })
                .evaluate(DOCS, 4, new EvalProtocol(windows, aggregate, 2));
    }

    // No BOS, W = 4, stride 2. Sliding windows: A [0,4) scores 2 3 4, [2,6) scores 5 6; B [0,4) scores 20 30 40;
    // C [0,4) scores 2 2 2, [2,5) scores 2.

    @Test
    void sliding_tokens_weighsEveryScoredTokenTheSame() {
        LengthResult r = evaluate(null, EvalProtocol.Windows.SLIDING, EvalProtocol.Aggregate.TOKENS);
        assertEquals((2 + 3 + 4 + 5 + 6 + 20 + 30 + 40 + 2 + 2 + 2 + 2) / 12.0, r.meanNll(), 1e-12);
        assertEquals(12, r.tokensScored());
        assertEquals(3, r.documents());
        assertEquals(1, r.skippedDocuments());
    }

    @Test
    void sliding_windows_averagesEachWindowsMean() {
        LengthResult r = evaluate(null, EvalProtocol.Windows.SLIDING, EvalProtocol.Aggregate.WINDOWS);
        assertEquals((3 + 5.5 + 30 + 2 + 2) / 5.0, r.meanNll(), 1e-12);
        assertEquals(Math.exp(8.5), r.perplexity(), 1e-9);
    }

    // Truncate: one window per document, [0,4) scoring 2 3 4 / 20 30 40 / 2 2 2.

    @Test
    void truncate_tokens_scoresOneWindowPerDocument() {
        LengthResult r = evaluate(null, EvalProtocol.Windows.TRUNCATE, EvalProtocol.Aggregate.TOKENS);
        assertEquals((2 + 3 + 4 + 20 + 30 + 40 + 2 + 2 + 2) / 9.0, r.meanNll(), 1e-12);
        assertEquals(9, r.tokensScored());
    }

    @Test
    void truncate_windows_equalsTokens_becauseEveryWindowScoresAsMany() {
        LengthResult r = evaluate(null, EvalProtocol.Windows.TRUNCATE, EvalProtocol.Aggregate.WINDOWS);
        assertEquals((3 + 30 + 2) / 3.0, r.meanNll(), 1e-12);
    }

    @Test
    void truncate_withBos_isBosPlusTheFirstWMinus1Tokens_allScored() {
        // BOS (0) + 3 document tokens, each predicted: 1 2 3 / 10 20 30 / 2 2 2; D (3 tokens) now fits
        LengthResult r = evaluate(0, EvalProtocol.Windows.TRUNCATE, EvalProtocol.Aggregate.TOKENS);
        assertEquals((1 + 2 + 3 + 10 + 20 + 30 + 2 + 2 + 2 + 9 + 9 + 9) / 12.0, r.meanNll(), 1e-12);
        assertEquals(4, r.documents());
    }

    @Test
    void sliding_withBos_windows() {
        // span 3, stride 2: A [0,3) scores 1 2 3, [2,5) scores 4 5, [4,6) scores 6; B [0,3) 10 20 30, [2,4) 40;
        // C [0,3) 2 2 2, [2,5) 2 2; D [0,3) 9 9 9
        LengthResult r = evaluate(0, EvalProtocol.Windows.SLIDING, EvalProtocol.Aggregate.WINDOWS);
        assertEquals((2 + 4.5 + 6 + 20 + 40 + 2 + 2 + 9) / 8.0, r.meanNll(), 1e-12);
    }
}
