package io.longctx.eval;

import io.longctx.data.tokenize.TextTokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Passkey retrieval (the protocol of the YaRN evaluation): filler sentences repeated to the target length, the key
 * line inserted at a relative depth, a question at the end; the model decodes a few tokens greedily and the first
 * integer in them is its answer.
 */
public final class Passkey {
    public static final String FILLER = "The grass is green. The sky is blue. The sun is yellow. Here we go. "
            + "There and back again. ";
    public static final String QUESTION = "What is the pass key? The pass key is";
    private static final Pattern INTEGER = Pattern.compile("\\d+");

    /** One prompt: its tokens, the key hidden in it, and where. */
    public record Trial(int[] tokens, int key, int length, double depth) {
    }

    private Passkey() {
    }

    public static String keyLine(int key) {
        return "The pass key is " + key + ". Remember it. " + key + " is the pass key. ";
    }

    /**
     * Builds a prompt of about {@code length} tokens (BOS + fillers + key line + fillers + question) with the key
     * line after {@code depth} of the fillers.
     */
    public static Trial trial(TextTokenizer tokenizer, Integer bosId, int length, double depth, int key) {
        int[] filler = tokenizer.encode(FILLER);
        int[] keyLine = tokenizer.encode(keyLine(key));
        int[] question = tokenizer.encode(QUESTION);
        int bos = bosId == null ? 0 : 1;
        int fillers = Math.max(0, (length - bos - keyLine.length - question.length) / filler.length);
        int before = (int) Math.round(depth * fillers);
        List<int[]> parts = new ArrayList<>();
        if (bosId != null) {
            parts.add(new int[] {bosId});
        }
        for (int i = 0; i < before; i++) {
            parts.add(filler);
        }
        parts.add(keyLine);
        for (int i = before; i < fillers; i++) {
            parts.add(filler);
        }
        parts.add(question);
        int total = parts.stream().mapToInt(p -> p.length).sum();
        int[] tokens = new int[total];
        int at = 0;
        for (int[] part : parts) {
            System.arraycopy(part, 0, tokens, at, part.length);
            at += part.length;
        }
        return new Trial(tokens, key, length, depth);
    }

    /** Keys uniform in 1..50000 from a seeded generator, one per trial. */
    public static int[] keys(long seed, int count) {
        SplittableRandom random = new SplittableRandom(seed);
        int[] keys = new int[count];
        for (int i = 0; i < count; i++) {
            keys[i] = 1 + random.nextInt(50000);
        }
        return keys;
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
