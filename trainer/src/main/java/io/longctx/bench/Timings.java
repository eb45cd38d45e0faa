package io.longctx.bench;

import java.util.Arrays;

/** Summaries of repeated timings. */
public final class Timings {
    private Timings() {
    }

    /** The median; with an even count, the mean of the middle two (as Python's statistics.median). */
    public static double median(double[] values) {
        if (values.length == 0) {
            throw new IllegalArgumentException("no timings");
        }
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int mid = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
