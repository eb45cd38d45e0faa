package io.longctx.data.retrieval;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Passages of the other sources' training documents, for retrieval documents with {@code filler: sources}: a
 * seeded reservoir of whole-document prefixes, so memory stays bounded however large the corpus is and the same
 * corpus always gives the same passages.
 */
public final class FillerPool {
    static final int DOCUMENTS = 256;
    static final int CHARS_PER_DOCUMENT = 1 << 16;

    private final List<String> texts = new ArrayList<>();
    private final SplittableRandom random;
    private long seen;

    public FillerPool(long seed) {
        this.random = new SplittableRandom(seed);
    }

    /** Offers one training document, in corpus order. */
    public void offer(String text) {
        String kept = text.length() > CHARS_PER_DOCUMENT ? text.substring(0, CHARS_PER_DOCUMENT) : text;
        seen++;
        if (texts.size() < DOCUMENTS) {
            texts.add(kept);
            return;
        }
        long slot = random.nextLong(seen);
        if (slot < DOCUMENTS) {
            texts.set((int) slot, kept);
        }
    }

    public boolean isEmpty() {
        return texts.isEmpty();
    }

    /** A passage of exactly {@code chars} characters from a random document, wrapping around its end. */
    public String passage(SplittableRandom choice, int chars) {
        String text = texts.get(choice.nextInt(texts.size())).replace('\n', ' ');
        StringBuilder out = new StringBuilder(chars);
        int at = choice.nextInt(text.length());
        while (out.length() < chars) {
            int take = Math.min(chars - out.length(), text.length() - at);
            out.append(text, at, at + take);
            at = 0;
            if (out.length() < chars) {
                out.append(' ');
            }
        }
        return out.substring(0, chars);
    }
}
