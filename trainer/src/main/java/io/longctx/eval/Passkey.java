package io.longctx.eval;

import io.longctx.LongctxException;
import io.longctx.data.retrieval.PasskeyPrompt;
import io.longctx.data.tokenize.TextTokenizer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Passkey retrieval as the YaRN repository's passkey evaluation builds it: a task description, filler text cut at a
 * character count, the key line, filler again, the question, joined by newlines and tokenized as one string (so no
 * tokens appear at the joins that a real prompt would not have); key uniform in 1..50000; the model decodes 10
 * tokens greedily and the first integer in them is its answer. The filler is sized so the prompt (BOS included)
 * is as long as possible without exceeding the target length in tokens.
 */
public final class Passkey {
    public static final int MAX_KEY = PasskeyPrompt.MAX_KEY;
    private static final String LAYOUT = "filler cut at a character depth, \"The pass key is K. Remember it. K is "
            + "the pass key.\", filler, \"What is the pass key? The pass key is\", joined by newlines and tokenized "
            + "as one string; K uniform in 1..50000; 10 greedy tokens, first integer";
    private static final Pattern INTEGER = Pattern.compile("\\d+");

    /**
     * One prompt.
     *
     * @param depth where the key line sits: filler characters before it over all filler characters
     */
    public record Trial(int[] tokens, int key, int length, double depth) {
    }

    private Passkey() {
    }

    /**
     * How the prompt is built, for reports and results files.
     *
     * @param task whether the prompt opens with YaRN's task description (off for a context too short to hold it)
     */
    public static String protocol(boolean task) {
        return task ? "YaRN's passkey prompt: task description, " + LAYOUT
                : "YaRN's passkey prompt without its task description line: " + LAYOUT;
    }

    /** The prompt text with {@code fillerChars} of filler, {@code depth} of them before the key line. */
    public static String prompt(boolean task, int fillerChars, double depth, int key) {
        return PasskeyPrompt.fixedFiller(task, fillerChars, depth, key);
    }

    /** Tokens of the prompt without filler, BOS and a five-digit key included: the shortest length a trial can have. */
    public static int minimumLength(TextTokenizer tokenizer, Integer bosId, boolean task) {
        return tokenizer.encode(prompt(task, 0, 0, MAX_KEY)).length + (bosId == null ? 0 : 1);
    }

    /** The longest prompt of at most {@code length} tokens (BOS included) with the key line at {@code depth}. */
    public static Trial trial(TextTokenizer tokenizer, Integer bosId, boolean task, int length, double depth,
            int key) {
        int bos = bosId == null ? 0 : 1;
        if (tokenizer.encode(prompt(task, 0, depth, key)).length + bos > length) {
            throw new LongctxException("passkey length " + length + " is shorter than the prompt without filler ("
                    + (tokenizer.encode(prompt(task, 0, depth, key)).length + bos) + " tokens)");
        }
        int fits = PasskeyPrompt.fillerCharsWithin(tokenizer, length - bos, Integer.MAX_VALUE / 2, length,
                chars -> prompt(task, chars, depth, key));
        int[] text = tokenizer.encode(prompt(task, fits, depth, key));
        int[] tokens = new int[text.length + bos];
        if (bosId != null) {
            tokens[0] = bosId;
        }
        System.arraycopy(text, 0, tokens, bos, text.length);
        double actual = fits == 0 ? depth : Math.round(depth * fits) / (double) fits;
        return new Trial(tokens, key, length, actual);
    }

    /** The first integer in the decoded answer, or -1. */
    public static int parseAnswer(String text) {
        Matcher m = INTEGER.matcher(text);
        if (!m.find()) {
            return -1;
        }
        try {
            return Integer.parseInt(m.group());
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
