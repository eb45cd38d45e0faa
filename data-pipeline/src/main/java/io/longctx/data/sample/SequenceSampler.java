package io.longctx.data.sample;

import java.util.SplittableRandom;

/**
 * A deterministic shuffled order over the sequences of a split: epoch e visits every index once in a permutation
 * drawn from (seed, e). Its whole state is a {@link Cursor}; a sampler restored from a cursor yields exactly the
 * indices an uninterrupted sampler would have yielded next.
 */
public final class SequenceSampler {

    /** Where a sampler stands: the next index is position {@code position} of epoch {@code epoch}'s order. */
    public record Cursor(long seed, long epoch, long position) {
    }

    private final long size;
    private final long seed;
    private long epoch;
    private long position;
    private int[] order;

    public SequenceSampler(long size, long seed) {
        this(size, new Cursor(seed, 0, 0));
    }

    public SequenceSampler(long size, Cursor cursor) {
        if (size <= 0 || size > Integer.MAX_VALUE) {
            throw new io.longctx.LongctxException("sampler over " + size + " sequences");
        }
        if (cursor.position() < 0 || cursor.position() > size || cursor.epoch() < 0) {
            throw new io.longctx.LongctxException("cursor " + cursor + " does not fit " + size + " sequences");
        }
        this.size = size;
        this.seed = cursor.seed();
        this.epoch = cursor.epoch();
        this.position = cursor.position();
        this.order = permutation(epoch);
    }

    public Cursor cursor() {
        return new Cursor(seed, epoch, position);
    }

    public long epoch() {
        return epoch;
    }

    public long next() {
        if (position == size) {
            epoch++;
            position = 0;
            order = permutation(epoch);
        }
        return order[(int) position++];
    }

    /** Fisher-Yates with a generator seeded by (seed, epoch). */
    private int[] permutation(long e) {
        int[] p = new int[(int) size];
        for (int i = 0; i < p.length; i++) {
            p[i] = i;
        }
        SplittableRandom random = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + e);
        for (int i = p.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}
