package io.longctx.safetensors;

import java.nio.ByteBuffer;

/**
 * Tensors move between files and memory in slices of whole rows (the first dimension), each at most a set number of
 * fp32 bytes, so a tensor above 2 GiB (Qwen2-7B's 152064 x 3584 embedding is 2.18 GB in fp32) never needs one Java
 * buffer or array of its full size.
 */
public final class RowSlices {
    /** The slice size used unless a caller asks for another (tests use small ones to cross slice boundaries). */
    public static final long DEFAULT_BYTES = 1L << 30;

    private RowSlices() {
    }

    /** One slice: rows [fromRow, toRow) as fp32. */
    @FunctionalInterface
    public interface Sink {
        void accept(long fromRow, long toRow, ByteBuffer fp32);
    }

    /** Where a slice's fp32 values come from when a writer reaches it: rows [fromRow, toRow). */
    @FunctionalInterface
    public interface Source {
        float[] rows(long fromRow, long toRow);
    }

    public static long rows(long[] shape) {
        return shape.length == 0 ? 1 : shape[0];
    }

    /** Elements per row (1 for a vector or scalar). */
    public static long rowElements(long[] shape) {
        long n = 1;
        for (int i = 1; i < shape.length; i++) {
            n *= shape[i];
        }
        return n;
    }

    /** Rows per slice so that one slice holds at most maxBytes of fp32 (at least one row). */
    public static long rowsPerSlice(long[] shape, long maxBytes) {
        return Math.max(1, maxBytes / Math.max(1, rowElements(shape) * Float.BYTES));
    }

    /** Reads a tensor slice by slice, in order. */
    public static void read(SafetensorsFile file, String name, long maxBytes, Sink sink) {
        long[] shape = file.entry(name).shape();
        long rows = rows(shape);
        long per = rowsPerSlice(shape, maxBytes);
        for (long from = 0; from < rows; from += per) {
            long to = Math.min(rows, from + per);
            sink.accept(from, to, file.readRowsAsF32(name, from, to));
        }
    }
}
