package io.longctx.safetensors;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Writes fp32 tensors to a safetensors file in F32, F16 or BF16, keeping the caller's tensor order and names, with
 * an optional {@code __metadata__}. Values are fetched one tensor at a time while writing, so a large model is never
 * held in Java memory whole. The file appears atomically: written beside the target, synced, then renamed.
 */
public final class SafetensorsWriter {
    private static final int ENCODE_CHUNK = 1 << 20;

    /** A tensor to write: its shape, and where its fp32 rows come from when the writer reaches them. */
    public record Tensor(long[] shape, RowSlices.Source values) {
        long elements() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private final DType dtype;
    private final long sliceBytes;

    public SafetensorsWriter(DType dtype) {
        this(dtype, RowSlices.DEFAULT_BYTES);
    }

    /** @param sliceBytes largest fp32 slice fetched from a tensor's source at once */
    public SafetensorsWriter(DType dtype, long sliceBytes) {
        this.sliceBytes = sliceBytes;
        if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16) {
            throw new IllegalArgumentException("can only write F32, F16 or BF16, not " + dtype);
        }
        this.dtype = dtype;
    }

    public SafetensorsWriter add(String name, float[] values, long[] shape) {
        return add(name, shape, () -> values);
    }

    /** Adds a small tensor whose values are produced whole when the writer reaches it. */
    public SafetensorsWriter add(String name, long[] shape, Supplier<float[]> values) {
        return addRows(name, shape, (from, to) -> {
            float[] all = values.get();
            long per = RowSlices.rowElements(shape);
            return from == 0 && to == RowSlices.rows(shape) ? all
                    : java.util.Arrays.copyOfRange(all, (int) (from * per), (int) (to * per));
        });
    }

    /** Adds a tensor read in row slices of at most the writer's slice size, only when the writer reaches it. */
    public SafetensorsWriter addRows(String name, long[] shape, RowSlices.Source rows) {
        tensors.put(name, new Tensor(shape.clone(), rows));
        return this;
    }

    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    public byte[] headerBytes() {
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode root = mapper.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = root.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            ObjectNode entry = root.putObject(e.getKey());
            entry.put("dtype", dtype.name());
            ArrayNode shape = entry.putArray("shape");
            for (long d : e.getValue().shape()) {
                shape.add(d);
            }
            long length = e.getValue().elements() * dtype.bytes();
            entry.putArray("data_offsets").add(offset).add(offset + length);
            offset += length;
        }
        byte[] json = root.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        byte[] header = new byte[padded];
        java.util.Arrays.fill(header, (byte) ' ');
        System.arraycopy(json, 0, header, 0, json.length);
        return header;
    }

    public void write(Path target) {
        io.longctx.AtomicFile.write(target, out -> {
            byte[] header = headerBytes();
            ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length);
            out.write(length.array());
            out.write(header);
            for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                long[] shape = e.getValue().shape();
                long rows = RowSlices.rows(shape);
                long per = RowSlices.rowsPerSlice(shape, sliceBytes);
                for (long row = 0; row < rows; row += per) {
                    long to = Math.min(rows, row + per);
                    float[] values = e.getValue().values().rows(row, to);
                    if (values.length != (to - row) * RowSlices.rowElements(shape)) {
                        throw new IllegalArgumentException(e.getKey() + ": " + values.length + " values for rows ["
                                + row + ", " + to + ") of shape " + java.util.Arrays.toString(shape));
                    }
                    for (int from = 0; from < values.length; from += ENCODE_CHUNK) {
                        out.write(encode(dtype, values, from, Math.min(values.length, from + ENCODE_CHUNK)));
                    }
                }
            }
        });
    }

    /** values[from, to) as little-endian F32, BF16 (round to nearest even) or F16 bytes. */
    public static byte[] encode(DType dtype, float[] values, int from, int to) {
        ByteBuffer buffer = ByteBuffer.allocate((to - from) * dtype.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = from; i < to; i++) {
            float v = values[i];
            switch (dtype) {
                case F32 -> buffer.putFloat(v);
                case BF16 -> buffer.putShort(Float16.floatToBf16(v));
                default -> buffer.putShort(Float16.floatToHalf(v));
            }
        }
        return buffer.array();
    }
}
