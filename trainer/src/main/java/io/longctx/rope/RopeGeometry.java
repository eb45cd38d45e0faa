package io.longctx.rope;

/**
 * The unscaled rotary geometry of a model.
 *
 * @param rotaryDim d = head_dim x partial_rotary_factor, the number of rotated channels per head (even)
 * @param theta the RoPE base b (rope_theta)
 */
public record RopeGeometry(int rotaryDim, double theta) {
    public RopeGeometry {
        if (rotaryDim <= 0 || rotaryDim % 2 != 0) {
            throw new io.longctx.LongctxException("rotary dimension must be positive and even, got " + rotaryDim);
        }
        if (!(theta > 1.0)) {
            throw new io.longctx.LongctxException("rope_theta must be > 1, got " + theta);
        }
    }

    public int pairs() {
        return rotaryDim / 2;
    }

    /** theta_i = b^(-2i/d), rounded to fp32 as HF stores its inv_freq buffer. */
    public double[] baseInvFreq() {
        return invFreqForBase(theta);
    }

    /** Inverse frequencies of a (possibly changed) base b': 1 / b'^(2i/d), fp32-rounded. */
    public double[] invFreqForBase(double base) {
        double[] inv = new double[pairs()];
        for (int i = 0; i < inv.length; i++) {
            inv[i] = (float) (1.0 / Math.pow(base, (2.0 * i) / rotaryDim));
        }
        return inv;
    }
}
