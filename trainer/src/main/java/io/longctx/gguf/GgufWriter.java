package io.longctx.gguf;

import io.longctx.AtomicFile;
import io.longctx.safetensors.DType;
import io.longctx.safetensors.RowSlices;
import io.longctx.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a GGUF (version 3) file: typed metadata, then tensor descriptions, then the tensor data aligned to 32
 * bytes. Tensor values are fetched row slice by row slice while writing, so a 7B model is never held in Java memory
 * whole; the file appears atomically (written beside the target, synced, renamed).
 */
public final class GgufWriter {
    static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
    static final int VERSION = 3;
    static final int ALIGNMENT = 32;

    /** GGUF metadata value types. */
    enum ValueType {
        UINT32(4), INT32(5), FLOAT32(6), BOOL(7), STRING(8), ARRAY(9);

        final int code;

        ValueType(int code) {
            this.code = code;
        }
    }

    /** The ggml element types longctx writes. */
    public enum TensorType {
        F32(0, DType.F32), F16(1, DType.F16), BF16(30, DType.BF16);

        final int code;
        final DType dtype;

        TensorType(int code, DType dtype) {
            this.code = code;
            this.dtype = dtype;
        }

        public static TensorType of(DType dtype) {
            for (TensorType t : values()) {
                if (t.dtype == dtype) {
                    return t;
                }
            }
            throw new IllegalArgumentException("GGUF tensors are written as F32, F16 or BF16, not " + dtype);
        }
    }

    private record Tensor(long[] shape, TensorType type, RowSlices.Source rows) {
        long bytes() {
            long n = type.dtype.bytes();
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    private interface Value {
        void write(Out out) throws IOException;
    }

    private final Map<String, Value> metadata = new LinkedHashMap<>();
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();

    public GgufWriter putString(String key, String value) {
        return put(key, out -> {
            out.u32(ValueType.STRING.code);
            out.string(value);
        });
    }

    public GgufWriter putU32(String key, long value) {
        if (value < 0 || value > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException(key + ": " + value + " does not fit a u32");
        }
        return put(key, out -> {
            out.u32(ValueType.UINT32.code);
            out.u32((int) value);
        });
    }

    public GgufWriter putF32(String key, double value) {
        return put(key, out -> {
            out.u32(ValueType.FLOAT32.code);
            out.f32((float) value);
        });
    }

    public GgufWriter putBool(String key, boolean value) {
        return put(key, out -> {
            out.u32(ValueType.BOOL.code);
            out.u8(value ? 1 : 0);
        });
    }

    public GgufWriter putStrings(String key, List<String> values) {
        return put(key, out -> {
            out.arrayHeader(ValueType.STRING, values.size());
            for (String v : values) {
                out.string(v);
            }
        });
    }

    public GgufWriter putF32s(String key, float[] values) {
        return put(key, out -> {
            out.arrayHeader(ValueType.FLOAT32, values.length);
            for (float v : values) {
                out.f32(v);
            }
        });
    }

    public GgufWriter putI32s(String key, int[] values) {
        return put(key, out -> {
            out.arrayHeader(ValueType.INT32, values.length);
            for (int v : values) {
                out.u32(v);
            }
        });
    }

    private GgufWriter put(String key, Value value) {
        if (metadata.put(key, value) != null) {
            throw new IllegalArgumentException("metadata key written twice: " + key);
        }
        return this;
    }

    /**
     * @param shape row-major shape (outermost first, as in safetensors); GGUF stores it innermost first
     * @param rows fp32 rows [from, to) along the first dimension
     */
    public GgufWriter addTensor(String name, long[] shape, TensorType type, RowSlices.Source rows) {
        if (tensors.put(name, new Tensor(shape.clone(), type, rows)) != null) {
            throw new IllegalArgumentException("tensor written twice: " + name);
        }
        return this;
    }

    public List<String> tensorNames() {
        return new ArrayList<>(tensors.keySet());
    }

    public void write(Path target) {
        AtomicFile.write(target, stream -> {
            Out out = new Out(stream);
            writeHeader(out);
            for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                writeData(out, e.getKey(), e.getValue());
                out.pad(ALIGNMENT);
            }
        });
    }

    private void writeHeader(Out out) throws IOException {
        out.u32(MAGIC);
        out.u32(VERSION);
        out.u64(tensors.size());
        out.u64(metadata.size());
        for (Map.Entry<String, Value> e : metadata.entrySet()) {
            out.string(e.getKey());
            e.getValue().write(out);
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor t = e.getValue();
            out.string(e.getKey());
            out.u32(t.shape.length);
            for (int d = t.shape.length - 1; d >= 0; d--) {
                out.u64(t.shape[d]);
            }
            out.u32(t.type.code);
            out.u64(offset);
            offset = align(offset + t.bytes());
        }
        out.pad(ALIGNMENT);
    }

    private static void writeData(Out out, String name, Tensor t) throws IOException {
        long rows = RowSlices.rows(t.shape);
        long per = RowSlices.rowsPerSlice(t.shape, RowSlices.DEFAULT_BYTES);
        long rowElements = RowSlices.rowElements(t.shape);
        for (long row = 0; row < rows; row += per) {
            long to = Math.min(rows, row + per);
            float[] values = t.rows.rows(row, to);
            if (values.length != (to - row) * rowElements) {
                throw new IllegalArgumentException(name + ": " + values.length + " values for rows [" + row + ", "
                        + to + ")");
            }
            for (int from = 0; from < values.length; from += 1 << 20) {
                out.write(SafetensorsWriter.encode(t.type.dtype, values, from, Math.min(values.length, from + (1 << 20))));
            }
        }
    }

    static long align(long offset) {
        return (offset + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    /** Little-endian primitives over a stream, counting bytes for alignment. */
    private static final class Out {
        private final OutputStream stream;
        private final ByteBuffer scratch = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        private long position;

        Out(OutputStream stream) {
            this.stream = stream;
        }

        void u8(int v) throws IOException {
            stream.write(v);
            position++;
        }

        void u32(int v) throws IOException {
            scratch.clear();
            write(scratch.putInt(v).array(), 4);
        }

        void u64(long v) throws IOException {
            scratch.clear();
            write(scratch.putLong(v).array(), 8);
        }

        void f32(float v) throws IOException {
            scratch.clear();
            write(scratch.putFloat(v).array(), 4);
        }

        void string(String s) throws IOException {
            byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
            u64(bytes.length);
            write(bytes);
        }

        void arrayHeader(ValueType element, long count) throws IOException {
            u32(ValueType.ARRAY.code);
            u32(element.code);
            u64(count);
        }

        void write(byte[] bytes) throws IOException {
            write(bytes, bytes.length);
        }

        void write(byte[] bytes, int length) throws IOException {
            stream.write(bytes, 0, length);
            position += length;
        }

        void pad(int alignment) throws IOException {
            while (position % alignment != 0) {
                u8(0);
            }
        }

    }
}
