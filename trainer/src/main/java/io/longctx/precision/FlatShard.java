package io.longctx.precision;

/**
 * The elements [start, start + length) of the trainable tensors' flattened concatenation (in their order, zero-padded
 * to world x length) that one rank of a sharded optimizer owns.
 */
public record FlatShard(long start, long length) {
    public FlatShard {
        if (start < 0 || length < 1) {
            throw new IllegalArgumentException("shard [" + start + ", +" + length + ")");
        }
    }

    /** Rank r's shard of {@code total} elements over {@code world} ranks: ceil(total / world) elements from r S. */
    public static FlatShard of(long total, int rank, int world) {
        long size = Math.max(1, (total + world - 1) / world);
        return new FlatShard(size * rank, size);
    }
}
