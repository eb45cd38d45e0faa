package io.longctx.eval;

import java.util.ArrayList;
import java.util.List;

/**
 * The sliding-window perplexity protocol of the YaRN repository: windows of W tokens advance by a stride, and each
 * window scores only the tokens that the previous window did not (the rest are labelled -100 there).
 */
public final class SlidingWindows {
    private SlidingWindows() {
    }

    /**
     * A window over document tokens [begin, end) that scores the targets at document positions [scoreFrom, end).
     */
    public record Window(int begin, int end, int scoreFrom) {
        public int scored() {
            return end - scoreFrom;
        }
    }

    /** The largest stride that still gives every scored target some context in its window. */
    public static int maxStride(int span, int firstScorable) {
        return span - firstScorable;
    }

    /**
     * @param docLength tokens in the document
     * @param span document tokens per window (W, or W-1 when each window starts with an added BOS)
     * @param stride how far consecutive windows start apart
     * @param firstScorable 0 when a BOS precedes the document so its first token is predicted, else 1
     */
    public static List<Window> plan(int docLength, int span, int stride, int firstScorable) {
        if (span <= firstScorable || stride <= 0 || stride > span - firstScorable) {
            throw new io.longctx.LongctxException("need 0 < stride <= span - firstScorable, got stride " + stride
                    + ", span " + span);
        }
        List<Window> windows = new ArrayList<>();
        int previousEnd = firstScorable;
        for (int begin = 0; begin < docLength; begin += stride) {
            int end = Math.min(begin + span, docLength);
            if (end > previousEnd) {
                windows.add(new Window(begin, end, previousEnd));
            }
            previousEnd = Math.max(previousEnd, end);
            if (end == docLength) {
                break;
            }
        }
        return windows;
    }

    /** Disjoint windows covering the document, each scoring every token it holds (for loss by position). */
    public static List<Window> disjoint(int docLength, int span, int firstScorable) {
        List<Window> windows = new ArrayList<>();
        for (int begin = 0; begin + span <= docLength; begin += span) {
            windows.add(new Window(begin, begin + span, begin + firstScorable));
        }
        return windows;
    }
}
