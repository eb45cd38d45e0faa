package io.longctx;

import java.time.Duration;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * A progress line for long work: done/total, throughput and ETA, printed at most every interval so logs of batch jobs
 * stay readable. Extra fields (loss, lr, memory) come from the caller.
 */
public final class Progress {
    private final String label;
    private final long total;
    private final String unit;
    private final Consumer<String> sink;
    private final long intervalNanos;
    private final long startNanos = System.nanoTime();
    private long lastPrint = Long.MIN_VALUE;
    private long units;

    public Progress(String label, long total, String unit, Consumer<String> sink, Duration interval) {
        this.label = label;
        this.total = total;
        this.unit = unit;
        this.sink = sink;
        this.intervalNanos = interval.toNanos();
    }

    /** Progress lines every two seconds to the given sink (a command's error stream). */
    public static Progress every2s(String label, long total, String unit, Consumer<String> sink) {
        return new Progress(label, total, unit, sink, Duration.ofSeconds(2));
    }

    /** Records progress; prints when the interval has passed, or on the last step. */
    public void update(long done, long unitsSoFar, String extra) {
        this.units = unitsSoFar;
        long now = System.nanoTime();
        if ((total <= 0 || done < total) && lastPrint != Long.MIN_VALUE && now - lastPrint < intervalNanos) {
            return;
        }
        lastPrint = now;
        sink.accept(line(done, now, extra));
    }

    String line(long done, long now, String extra) {
        double seconds = Math.max(1e-9, (now - startNanos) / 1e9);
        double rate = units / seconds;
        String tail = extra == null || extra.isEmpty() ? "" : " " + extra;
        if (total <= 0) {
            return String.format(Locale.ROOT, "%s %,.0f %s/s elapsed %s%s", label, rate, unit,
                    formatDuration(seconds), tail);
        }
        String eta = done > 0 && done < total ? formatDuration(seconds * (total - done) / done) : "-";
        return String.format(Locale.ROOT, "%s %d/%d (%.0f%%) %,.0f %s/s elapsed %s ETA %s%s", label, done, total,
                100.0 * done / total, rate, unit, formatDuration(seconds), eta, tail);
    }

    public static String formatDuration(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }
}
