package io.longctx.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Creating NDArrays whose memory torch owns. DJL's create(...) wraps a Java direct buffer without copying; when
 * autograd saves such a tensor and the buffer is collected, gradients silently become garbage. Every array made
 * from Java data therefore goes through here and is cloned into torch memory before the buffer can go away.
 */
public final class Tensors {
    private Tensors() {
    }

    /** A torch-owned fp32 copy of a direct little-endian buffer. */
    public static NDArray fromF32Buffer(NDManager manager, ByteBuffer data, Shape shape) {
        ByteBuffer direct = data.order(ByteOrder.LITTLE_ENDIAN);
        try (NDArray view = manager.create(direct, shape, DataType.FLOAT32)) {
            return view.duplicate();
        }
    }

    /**
     * A torch-owned fp32 tensor read from a safetensors file in row slices of at most sliceBytes, each slice handed
     * to {@code check} first; slices are joined on the first dimension.
     */
    public static NDArray fromSafetensors(NDManager manager, io.longctx.safetensors.SafetensorsFile file,
            String name, long sliceBytes, io.longctx.safetensors.RowSlices.Sink check) {
        long[] shape = file.entry(name).shape();
        ai.djl.ndarray.NDList parts = new ai.djl.ndarray.NDList();
        try (NDManager scope = manager.newSubManager()) {
            io.longctx.safetensors.RowSlices.read(file, name, sliceBytes, (from, to, data) -> {
                check.accept(from, to, data);
                long[] sliceShape = shape.clone();
                if (sliceShape.length > 0) {
                    sliceShape[0] = to - from;
                }
                parts.add(fromF32Buffer(scope, data, new Shape(sliceShape)));
            });
            NDArray whole = parts.size() == 1 ? parts.get(0) : ai.djl.ndarray.NDArrays.concat(parts, 0);
            whole.attach(manager);
            return whole;
        }
    }

    /** The rows [fromRow, toRow) of a tensor (along its first dimension, fp32 or bf16) as a float array. */
    /** Every value of an fp32 or bf16 array as floats (bf16 widened exactly). */
    public static float[] floats(NDArray array) {
        return array.getShape().dimension() == 0 ? rows(array, 0, 1) : rows(array, 0, array.getShape().get(0));
    }

    public static float[] rows(NDArray array, long fromRow, long toRow) {
        if (array.getShape().dimension() == 0) {
            return rows(array.reshape(1), 0, 1);
        }
        try (NDArray slice = array.get(new ai.djl.ndarray.index.NDIndex("{}:{}", fromRow, toRow))) {
            if (slice.getDataType() != DataType.UNKNOWN) {
                return slice.toFloatArray();
            }
            try (NDArray wide = PrecisionOps.shared().cast(slice, Precision.FP32)) {     // bf16 widened exactly
                return wide.toFloatArray();
            }
        }
    }

    public static NDArray fromFloats(NDManager manager, float[] values, Shape shape) {
        ByteBuffer buffer = ByteBuffer.allocateDirect(values.length * 4).order(ByteOrder.nativeOrder());
        buffer.asFloatBuffer().put(values);
        try (NDArray view = manager.create(buffer, shape, DataType.FLOAT32)) {
            return view.duplicate();
        }
    }

    public static NDArray fromLongs(NDManager manager, long[] values, Shape shape) {
        ByteBuffer buffer = ByteBuffer.allocateDirect(values.length * 8).order(ByteOrder.nativeOrder());
        buffer.asLongBuffer().put(values);
        try (NDArray view = manager.create(buffer, shape, DataType.INT64)) {
            return view.duplicate();
        }
    }

    /** Token ids as a (1, n) int64 array. */
    public static NDArray tokenRow(NDManager manager, int[] ids, int from, int to) {
        long[] values = new long[to - from];
        for (int i = from; i < to; i++) {
            values[i - from] = ids[i];
        }
        return fromLongs(manager, values, new Shape(1, values.length));
    }

    /** A 0-d constant in torch memory, safe to use as an operand that autograd saves. */
    public static NDArray scalar(NDManager manager, double value, DataType type) {
        return manager.full(new Shape(), (float) value, type);
    }
}
