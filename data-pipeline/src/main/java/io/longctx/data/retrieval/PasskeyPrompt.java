package io.longctx.data.retrieval;

import io.longctx.data.tokenize.TextTokenizer;
import java.util.function.IntFunction;
import java.util.function.IntPredicate;

/**
 * The passkey-retrieval text as the YaRN repository's passkey evaluation writes it: a task description, filler, the
 * key line, filler again and the question, joined by newlines. The evaluation and the synthetic training documents
 * are built here, so what training teaches is what the test asks.
 */
public final class PasskeyPrompt {
    public static final String TASK = "There is an important info hidden inside a lot of irrelevant text. Find it and "
            + "memorize them. I will quiz you about the important information there.";
    public static final String FILLER = "The grass is green. The sky is blue. The sun is yellow. Here we go. There "
            + "and back again.";
    public static final String QUESTION = "What is the pass key? The pass key is";
    public static final int MAX_KEY = 50000;

    private PasskeyPrompt() {
    }

    public static String keyLine(int key) {
        return "The pass key is " + key + ". Remember it. " + key + " is the pass key.";
    }

    /** YaRN's filler: the fixed sentences repeated until at least {@code chars} long. */
    public static String repeatedFiller(int chars) {
        StringBuilder filler = new StringBuilder(FILLER);
        while (filler.length() < chars) {
            filler.append(' ').append(FILLER);
        }
        return filler.toString();
    }

    /**
     * YaRN's prompt with {@code fillerChars} of the fixed filler, {@code depth} of them before the key line; as
     * YaRN does, both sides repeat the filler from its start.
     */
    public static String prompt(int fillerChars, double depth, int key) {
        return fixedFiller(true, fillerChars, depth, key);
    }

    /** YaRN's layout with the fixed filler, with or without the task description. */
    public static String fixedFiller(boolean task, int fillerChars, double depth, int key) {
        String filler = repeatedFiller(fillerChars);
        int before = charsBefore(fillerChars, depth);
        return join(task, filler.substring(0, before), key, filler.substring(0, fillerChars - before));
    }

    /** The same layout around one passage of the caller's, read on (not restarted) after the key line. */
    public static String passageFiller(boolean task, String passage, int fillerChars, double depth, int key) {
        int before = charsBefore(fillerChars, depth);
        return join(task, passage.substring(0, before), key, passage.substring(before, fillerChars));
    }

    private static String join(boolean task, String before, int key, String after) {
        String body = String.join("\n", before, keyLine(key), after, QUESTION);
        return task ? TASK + "\n" + body : body;
    }

    public static int charsBefore(int fillerChars, double depth) {
        return (int) Math.round(depth * fillerChars);
    }

    /**
     * The most filler characters, up to {@code maxChars}, for which {@code text(chars)} encodes to at most
     * {@code budget} tokens; -1 when even no filler is over budget. Token counts grow with the filler, so a gallop
     * from {@code hint} (a guess; exact guesses cost three encodings) then a binary search finds it.
     */
    public static int fillerCharsWithin(TextTokenizer tokenizer, int budget, int maxChars, int hint,
            IntFunction<String> text) {
        IntPredicate fits = chars -> tokenizer.encode(text.apply(chars)).length <= budget;
        if (!fits.test(0)) {
            return -1;
        }
        int start = Math.max(0, Math.min(maxChars, hint));
        long low;
        long high;
        if (fits.test(start)) {
            low = start;
            long step = 1;
            high = low + step;
            while (high <= maxChars && fits.test((int) high)) {
                low = high;
                step *= 2;
                high = low + step;
            }
            high = Math.min(high, maxChars + 1L);
        } else {
            high = start;
            long step = 1;
            low = high - step;
            while (low > 0 && !fits.test((int) low)) {
                high = low;
                step *= 2;
                low = high - step;
            }
            low = Math.max(0, low);
        }
        while (high - low > 1) {
            long mid = (low + high) >>> 1;
            if (fits.test((int) mid)) {
                low = mid;
            } else {
                high = mid;
            }
        }
        return (int) low;
    }
}
