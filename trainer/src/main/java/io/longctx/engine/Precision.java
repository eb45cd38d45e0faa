package io.longctx.engine;

import java.util.Locale;

/**
 * The floating-point type of the weights a forward and backward pass compute with, and of the activations it
 * saves. fp32 master weights, optimizer moments, gradient sums, norm statistics, RoPE tables and the loss stay fp32
 * under both.
 */
public enum Precision {
    FP32(6, 4),
    BF16(15, 2);

    /** torch's ScalarType code, for TorchScript casts (DJL's DataType has no bfloat16 it can pass to native code). */
    final int torchCode;
    private final int bytes;

    Precision(int torchCode, int bytes) {
        this.torchCode = torchCode;
        this.bytes = bytes;
    }

    public int bytes() {
        return bytes;
    }

    public String recipeName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
