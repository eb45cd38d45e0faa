package io.longctx.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

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
        return assemble(slices(starts, q.getShape().get(2)),
                s -> attention.attend(slice(q, s), slice(k, s), slice(v, s), true));
    }

    /**
     * As {@link #attend}, keeping what the backward needs; each slice's log-sum-exp (b, heads, to - from) is
     * assembled like the output, into (B, heads, T).
     */
    public static SdpaAttention.Saved attendSaving(SdpaAttention sdpa, NDArray q, NDArray k, NDArray v,
            int[][] starts) {
        List<List<Slice>> groups = slices(starts, q.getShape().get(2));
        List<SdpaAttention.Saved> perSlice = new ArrayList<>();
        NDArray output = assemble(groups, s -> {
            SdpaAttention.Saved saved = sdpa.attendSaving(slice(q, s), slice(k, s), slice(v, s));
            perSlice.add(saved);
            return saved.output();
        });
        int[] next = {0};
        return new SdpaAttention.Saved(output, assemble(groups, s -> perSlice.get(next[0]++).logSumExp()));
    }

    /** d(loss)/d(q, k, v) of an {@link #attendSaving} call from d(loss)/d(output), slice by slice. */
    public static NDList gradients(SdpaAttention sdpa, NDArray gradOutput, NDArray q, NDArray k, NDArray v,
            SdpaAttention.Saved saved, int[][] starts) {
        List<List<Slice>> groups = slices(starts, q.getShape().get(2));
        List<NDList> perSlice = new ArrayList<>();
        for (List<Slice> group : groups) {
            for (Slice s : group) {
                perSlice.add(sdpa.gradients(slice(gradOutput, s), slice(q, s), slice(k, s), slice(v, s),
                        new SdpaAttention.Saved(slice(saved.output(), s), slice(saved.logSumExp(), s))));
            }
        }
        NDList gradients = new NDList();
        for (int which = 0; which < 3; which++) {
            int[] next = {0};
            int w = which;
            gradients.add(assemble(groups, s -> perSlice.get(next[0]++).get(w)));
        }
        return gradients;
    }

    /** A slice causal attention runs on: rows selected by {@code batch}, positions [from, to). */
    private record Slice(String batch, long from, long to, boolean whole) {
    }

    /**
     * The slices of a (B, T) batch, grouped by rows: one group for all rows when they share their document
     * boundaries, else one per row; within a group, one slice per document.
     */
    private static List<List<Slice>> slices(int[][] starts, long t) {
        boolean shared = Arrays.stream(starts).allMatch(row -> Arrays.equals(row, starts[0]));
        List<List<Slice>> groups = new ArrayList<>();
        for (int b = 0; b < (shared ? 1 : starts.length); b++) {
            String batch = shared ? ":" : b + ":" + (b + 1);
            int[] row = starts[b];
            List<Slice> group = new ArrayList<>();
            for (int i = 0; i < row.length; i++) {
                long to = i + 1 < row.length ? row[i + 1] : t;
                group.add(new Slice(batch, row[i], to, shared && row.length == 1));
            }
            groups.add(group);
        }
        return groups;
    }

    /** The results of each slice, concatenated along T within a group and the groups along B. */
    private static NDArray assemble(List<List<Slice>> groups, Function<Slice, NDArray> attend) {
        NDList rows = new NDList();
        for (List<Slice> group : groups) {
            NDList parts = new NDList();
            for (Slice s : group) {
                parts.add(attend.apply(s));                                      // (b, ..., to - from, ...)
            }
            rows.add(parts.size() == 1 ? parts.get(0) : NDArrays.concat(parts, 2));
        }
        return rows.size() == 1 ? rows.get(0) : NDArrays.concat(rows, 0);
    }

    /** The slice of x (B, heads, T, ...) along B and T. */
    private static NDArray slice(NDArray x, Slice s) {
        if (s.whole()) {
            return x;
        }
        return x.get(new NDIndex(s.batch() + ", :, {}:{}", s.from(), s.to()));
    }
}
