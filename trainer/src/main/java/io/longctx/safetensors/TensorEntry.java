package io.longctx.safetensors;

/**
 * One tensor of a safetensors header.
 *
 * @param begin byte offset of the data, relative to the start of the data section
 * @param end exclusive end offset, relative to the start of the data section
 */
public record TensorEntry(String name, DType dtype, long[] shape, long begin, long end) {
    public TensorEntry {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public long byteLength() {
        return end - begin;
    }
}
