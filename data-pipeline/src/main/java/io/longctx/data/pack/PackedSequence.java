package io.longctx.data.pack;

/**
 * One training sequence of exactly L tokens.
 *
 * @param tokens L token ids; positions at and after {@code used} are padding
 * @param used number of real tokens (the rest is padding, excluded from the loss)
 * @param docStarts ascending offsets at which a document (or a piece of one) begins inside the sequence
 */
public record PackedSequence(int[] tokens, int used, int[] docStarts) {

    public int length() {
        return tokens.length;
    }

    /** Position ids restarting at 0 at the sequence start and at every document start. */
    public int[] positionIds() {
        int[] positions = new int[tokens.length];
        int next = 0;
        int segmentStart = 0;
        for (int t = 0; t < tokens.length; t++) {
            if (next < docStarts.length && docStarts[next] == t) {
                segmentStart = t;
                next++;
            }
            positions[t] = t - segmentStart;
        }
        return positions;
    }

    /** Segment (document) ordinal of each position, 0-based, so attention can be blocked across documents. */
    public int[] documentIds() {
        int[] ids = new int[tokens.length];
        int segment = 0;
        int next = 0;
        for (int t = 0; t < tokens.length; t++) {
            if (next < docStarts.length && docStarts[next] == t) {
                if (t > 0) {
                    segment++;
                }
                next++;
            }
            ids[t] = segment;
        }
        return ids;
    }

    /** 1 where position t's next-token target is a real token, 0 where it is padding or past the end. */
    public int[] lossMask() {
        int[] mask = new int[tokens.length];
        for (int t = 0; t + 1 < used; t++) {
            mask[t] = 1;
        }
        return mask;
    }
}
