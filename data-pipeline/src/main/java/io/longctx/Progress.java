package io.longctx;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;

/**
 * A progress line for long work: done/total, throughput and ETA, printed at most every interval so logs of batch jobs
 * stay readable. Extra fields (loss, lr, memory) come from the caller.
 */
public final class Progress {
    private final String label;
    private final long total;
    private final String unit;
    private final PrintStream out;
    private final long intervalNanos;
    private final long startNanos = System.nanoTime();
    private long lastPrint = Long.MIN_VALUE;
    private long units;

    public Progress(String label, long total, String unit, PrintStream out, Duration interval) {
        this.label = label;
        this.total = total;
        this.unit = unit;
        this.out = out;
        this.intervalNanos = interval.toNanos();
    }

    public static Progress toStderr(String label, long total, String unit) {
        return new Progress(label, total, unit, System.err, Duration.ofSeconds(2));
    }

    /** Records progress; prints when the interval has passed, or on the last step. */
    public void update(long done, long unitsSoFar, String extra) {
        this.units = unitsSoFar;
        long now = System.nanoTime();
        if (done < total && lastPrint != Long.MIN_VALUE && now - lastPrint < intervalNanos) {
            return;
        }
        lastPrint = now;
        out.println(line(done, now, extra));
        out.flush();
    }

    String line(long done, long now, String extra) {
        double seconds = Math.max(1e-9, (now - startNanos) / 1e9);
        double rate = units / seconds;
        String eta = done > 0 && done < total ? formatDuration(seconds * (total - done) / done) : "-";
        return String.format(Locale.ROOT, "%s %d/%d (%.0f%%) %,.0f %s/s elapsed %s ETA %s%s", label, done, total,
                100.0 * done / Math.max(1, total), rate, unit, formatDuration(seconds), eta,
                extra == null || extra.isEmpty() ? "" : " " + extra);
    }

    public static String formatDuration(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }
}
