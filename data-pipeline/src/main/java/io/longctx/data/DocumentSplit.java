package io.longctx.data;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * Assigns whole documents to the validation split by a seeded hash of their id: the same document always lands in
 * the same split, whatever order the sources are read in, and no document is shared between splits.
 */
public final class DocumentSplit {
    private final long seed;
    private final double validationFraction;

    public DocumentSplit(long seed, double validationFraction) {
        this.seed = seed;
        this.validationFraction = validationFraction;
    }

    public boolean isValidation(String documentId) {
        if (validationFraction <= 0) {
            return false;
        }
        return new SplittableRandom(seed ^ fnv1a64(documentId)).nextDouble() < validationFraction;
    }

    static long fnv1a64(String text) {
        long hash = 0xcbf29ce484222325L;
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            hash ^= b & 0xff;
            hash *= 0x100000001b3L;
        }
        return hash;
    }
}
