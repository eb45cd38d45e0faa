package io.longctx.data.retrieval;

import io.longctx.LongctxException;
import io.longctx.data.tokenize.TextTokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntFunction;

/**
 * Generates a retrieval source's documents: each a passkey prompt of a random length in the source's range with the
 * key line at a random depth, then the answer (" K."). Deterministic in the source's seed (and, for filler from the
 * sources, in the corpus).
 */
public final class RetrievalDocuments {
    /** One generated document and its tokens. */
    public record Generated(String id, String text, int[] tokens, int key, double depth) {
    }

    /** Filler characters tried per token of budget: enough for any tokenizer that averages under 16 characters. */
    private static final int CHARS_PER_TOKEN = 16;
    /** Batched guesses per document before it is sized by a search. */
    private static final int GUESS_ROUNDS = 3;

    private final RetrievalSource spec;
    private final TextTokenizer tokenizer;
    private final FillerPool pool;
    private final SplittableRandom random;
    /** Tokens of a document without filler, five-digit key. */
    private final int shortest;
    private long generated;
    /** Filler characters per token seen so far: the next document's first guess. */
    private double charsPerToken = 1;

    /**
     * @param pool passages for {@code filler: sources}; ignored for fixed filler
     * @param where the recipe key of the source, for messages
     */
    public RetrievalDocuments(RetrievalSource spec, TextTokenizer tokenizer, FillerPool pool, String where) {
        this.spec = spec;
        this.tokenizer = tokenizer;
        this.pool = pool;
        this.random = new SplittableRandom(spec.seed());
        if (spec.filler() == RetrievalSource.Filler.SOURCES && pool.isEmpty()) {
            throw new LongctxException(where + ".filler: sources needs training documents from another source; "
                    + "there are none (use filler: fixed)");
        }
        this.shortest = checkLengths(spec, tokenizer, where);
    }

    /**
     * Refuses a length range whose shortest document cannot hold the prompt and answer; returns the tokens of a
     * document without filler.
     */
    public static int checkLengths(RetrievalSource spec, TextTokenizer tokenizer, String where) {
        String bare = PasskeyPrompt.fixedFiller(spec.task(), 0, 0, PasskeyPrompt.MAX_KEY);
        int shortest = tokenizer.encode(bare + " " + PasskeyPrompt.MAX_KEY + ".").length;
        if (spec.minTokens() < shortest) {
            throw new LongctxException(where + ".lengths: the shortest document, " + spec.minTokens() + " tokens, "
                    + "cannot hold the prompt and answer without filler (" + shortest + " tokens with this tokenizer"
                    + (spec.task() ? "; task: false drops the description line" : "") + ")");
        }
        return shortest;
    }

    /** One document's draws, before its filler is sized. */
    private record Draw(int budget, double depth, int key, String passage) {
    }

    /**
     * The next {@code count} documents. Their guessed filler sizes are encoded in one parallel batch, and a guess
     * that gives exactly the drawn token count is kept (with a byte-level tokenizer every guess does); any other
     * document is sized by a search of its own for the most filler within the count.
     */
    public List<Generated> next(int count) {
        List<Draw> draws = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int budget = spec.minTokens() + random.nextInt(spec.maxTokens() - spec.minTokens() + 1);
            double depth = random.nextDouble();
            int key = 1 + random.nextInt(PasskeyPrompt.MAX_KEY);
            String passage = spec.filler() == RetrievalSource.Filler.FIXED ? ""
                    : pool.passage(random, CHARS_PER_TOKEN * budget);
            draws.add(new Draw(budget, depth, key, passage));
        }
        int[] chars = new int[count];
        int[][] tokens = new int[count][];
        for (int i = 0; i < count; i++) {
            chars[i] = clampChars(Math.round((draws.get(i).budget() - shortest) * charsPerToken), draws.get(i));
        }
        // guesses corrected by their own error, all documents of a round in one batch
        for (int round = 0; round < GUESS_ROUNDS; round++) {
            List<Integer> open = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                if (tokens[i] == null || tokens[i].length != draws.get(i).budget()) {
                    if (tokens[i] != null) {
                        chars[i] = clampChars(chars[i] + Math.round((draws.get(i).budget() - tokens[i].length)
                                * charsPerToken), draws.get(i));
                    }
                    open.add(i);
                }
            }
            if (open.isEmpty()) {
                break;
            }
            int[][] encoded = tokenizer.encodeBatch(open.stream().map(i -> text(chars[i], draws.get(i))).toList());
            for (int k = 0; k < open.size(); k++) {
                tokens[open.get(k)] = encoded[k];
            }
        }
        List<Generated> out = new ArrayList<>(count);
        long fillerChars = 0;
        long fillerTokens = 0;
        for (int i = 0; i < count; i++) {
            Draw d = draws.get(i);
            if (tokens[i].length != d.budget()) {
                int hint = chars[i];
                chars[i] = Math.max(0, PasskeyPrompt.fillerCharsWithin(tokenizer, d.budget(),
                        CHARS_PER_TOKEN * d.budget(), hint, c -> text(c, d)));
                tokens[i] = tokenizer.encode(text(chars[i], d));
            }
            fillerChars += chars[i];
            fillerTokens += Math.max(0, tokens[i].length - shortest);
            double actual = chars[i] == 0 ? d.depth()
                    : PasskeyPrompt.charsBefore(chars[i], d.depth()) / (double) chars[i];
            out.add(new Generated("retrieval:" + spec.seed() + ":" + generated++, text(chars[i], d), tokens[i],
                    d.key(), actual));
        }
        if (fillerTokens > 0) {
            charsPerToken = fillerChars / (double) fillerTokens;
        }
        return out;
    }

    private static int clampChars(long chars, Draw d) {
        return (int) Math.max(0, Math.min(CHARS_PER_TOKEN * (long) d.budget(), chars));
    }

    /** The next document. */
    public Generated next() {
        return next(1).get(0);
    }

    private String text(int fillerChars, Draw d) {
        return text(fillerChars, d.passage(), d.depth(), d.key());
    }

    private String text(int fillerChars, String filler, double depth, int key) {
        String prompt = spec.filler() == RetrievalSource.Filler.FIXED
                ? PasskeyPrompt.fixedFiller(spec.task(), fillerChars, depth, key)
                : PasskeyPrompt.passageFiller(spec.task(), filler, fillerChars, depth, key);
        return prompt + " " + key + ".";
    }
}
