package io.longctx.eval;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * How perplexity at a context length W is measured.
 *
 * @param windows {@code SLIDING}: windows of W tokens advancing by the stride, each scoring only the tokens the
 *     previous one did not (every token of a document scored once, with up to W-1 tokens of context);
 *     {@code TRUNCATE}: one window per document, BOS plus its first W-1 tokens, every token scored (the YaRN paper's
 *     Proof-pile curves, its eval's --truncate)
 * @param aggregate {@code TOKENS}: exp(mean NLL over every scored token, each weighing the same);
 *     {@code WINDOWS}: exp(mean over windows of each window's mean NLL), as the YaRN repository's sliding-window
 *     evaluation averages its per-window losses
 * @param stride how far sliding windows start apart (unused by truncate)
 */
public record EvalProtocol(Windows windows, Aggregate aggregate, int stride) {

    public enum Windows {
        SLIDING, TRUNCATE;

        public String cliName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public enum Aggregate {
        TOKENS, WINDOWS;

        public String cliName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public EvalProtocol {
        if (stride <= 0) {
            throw new io.longctx.LongctxException("--stride must be positive, got " + stride);
        }
    }

    /** The defaults: sliding windows, every scored token weighing the same. */
    public static EvalProtocol sliding(int stride) {
        return new EvalProtocol(Windows.SLIDING, Aggregate.TOKENS, stride);
    }

    /** One line for tables, charts and reports. */
    public String describe() {
        String how = windows == Windows.SLIDING ? "sliding windows, stride " + stride
                : "one window per document (BOS + its first W-1 tokens)";
        String mean = aggregate == Aggregate.TOKENS ? "perplexity = exp(mean NLL over scored tokens)"
                : "perplexity = exp(mean of per-window mean NLL)";
        return how + "; " + mean;
    }

    /** A short form for chart titles. */
    public String shortName() {
        return windows.cliName() + (windows == Windows.SLIDING ? " (stride " + stride + ")" : "") + ", "
                + (aggregate == Aggregate.TOKENS ? "per-token mean" : "per-window mean");
    }

    public Map<String, Object> toMap() {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("protocol", windows.cliName());
        map.put("aggregate", aggregate.cliName());
        map.put("stride", windows == Windows.SLIDING ? stride : null);
        map.put("description", describe());
        return map;
    }
}
