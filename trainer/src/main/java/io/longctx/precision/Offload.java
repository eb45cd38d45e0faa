package io.longctx.precision;

import java.util.Locale;

/** Where the fp32 master weights and AdamW moments of the trainable parameters live. */
public enum Offload {
    /** On the training device, next to the weights the model computes with. */
    NONE,
    /** In host memory, updated there once per step; gradients come over once per step, fresh weights go back. */
    HOST;

    public String recipeName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
