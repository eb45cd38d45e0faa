package io.longctx.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import java.util.Arrays;

/**
 * Attention over packed documents that must not see each other: causal attention on each document's slice of
 * q, k and v, which is exactly block-diagonal causal attention, with no (T x T) mask or score matrix. Memory is what
 * the implementation needs for the longest document; rows that share their document boundaries run as one batch.
 */
public final class DocumentAttention {
    private DocumentAttention() {
    }

    /**
     * Where each document begins in each row, from per-position document ordinals (B rows of T).
     *
     * @return for each row the ascending start offsets, the first always 0
     */
    public static int[][] segmentStarts(int[][] documentIds) {
        int[][] starts = new int[documentIds.length][];
        for (int b = 0; b < documentIds.length; b++) {
            int[] ids = documentIds[b];
            int count = 1;
            for (int t = 1; t < ids.length; t++) {
                if (ids[t] != ids[t - 1]) {
                    count++;
                }
            }
            int[] row = new int[count];
            int next = 1;
            for (int t = 1; t < ids.length; t++) {
                if (ids[t] != ids[t - 1]) {
                    row[next++] = t;
                }
            }
            starts[b] = row;
        }
        return starts;
    }

    /**
     * @param q (B, heads, T, hd)
     * @param k (B, kvHeads, T, hd)
     * @param v (B, kvHeads, T, hd)
     * @param starts per row, the offsets where its documents begin (first 0)
     * @return (B, heads, T, hd)
     */
    public static NDArray attend(Attention attention, NDArray q, NDArray k, NDArray v, int[][] starts) {
        long t = q.getShape().get(2);
        boolean shared = Arrays.stream(starts).allMatch(row -> Arrays.equals(row, starts[0]));
        if (shared) {
            return rows(attention, q, k, v, starts[0], t, ":");
        }
        NDList rows = new NDList();
        for (int b = 0; b < starts.length; b++) {
            rows.add(rows(attention, q, k, v, starts[b], t, b + ":" + (b + 1)));
        }
        return NDArrays.concat(rows, 0);
    }

    /** Causal attention per segment of the rows selected by {@code batch}, concatenated along T. */
    private static NDArray rows(Attention attention, NDArray q, NDArray k, NDArray v, int[] starts, long t,
            String batch) {
        if (starts.length == 1) {
            return batch.equals(":") ? attention.attend(q, k, v, true)
                    : attention.attend(slice(q, batch, 0, t), slice(k, batch, 0, t), slice(v, batch, 0, t), true);
        }
        NDList parts = new NDList();
        for (int i = 0; i < starts.length; i++) {
            long from = starts[i];
            long to = i + 1 < starts.length ? starts[i + 1] : t;
            parts.add(attention.attend(slice(q, batch, from, to), slice(k, batch, from, to), slice(v, batch, from, to),
                    true));                                                      // (b, heads, to-from, hd)
        }
        return NDArrays.concat(parts, 2);
    }

    private static NDArray slice(NDArray x, String batch, long from, long to) {
        return x.get(new NDIndex(batch + ", :, {}:{}", from, to));
    }
}
