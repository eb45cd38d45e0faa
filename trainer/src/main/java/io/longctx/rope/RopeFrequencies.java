package io.longctx.rope;

/**
 * The result of a scaling method: per-pair inverse frequencies and the attention factor that multiplies cos and sin
 * (so attention logits are scaled by its square).
 *
 * @param ropeType the HF rope_type that produced it
 * @param invFreq scaled inverse frequencies, one per rotated pair
 * @param attentionFactor multiplier applied to both cos and sin
 * @param baseInvFreq the unscaled inverse frequencies, for reporting the scale applied per pair
 * @param rampLow YaRN's correction range start, NaN for other methods
 * @param rampHigh YaRN's correction range end, NaN for other methods
 */
public record RopeFrequencies(
        String ropeType, double[] invFreq, double attentionFactor, double[] baseInvFreq, double rampLow,
        double rampHigh) {

    /** Which part of the spectrum a pair falls in, judged by the scale actually applied to it. */
    public enum Band {
        EXTRAPOLATED, RAMP, INTERPOLATED
    }

    public RopeFrequencies {
        if (invFreq.length != baseInvFreq.length) {
            throw new IllegalArgumentException("inv_freq and base inv_freq differ in length");
        }
        invFreq = invFreq.clone();
        baseInvFreq = baseInvFreq.clone();
    }

    public static RopeFrequencies of(String ropeType, double[] invFreq, double attentionFactor, double[] base) {
        return new RopeFrequencies(ropeType, invFreq, attentionFactor, base, Double.NaN, Double.NaN);
    }

    public boolean hasRampBounds() {
        return !Double.isNaN(rampLow);
    }

    public int pairs() {
        return invFreq.length;
    }

    @Override
    public double[] invFreq() {
        return invFreq.clone();
    }

    public double invFreq(int pair) {
        return invFreq[pair];
    }

    /** Wavelength in tokens of the scaled frequency, 2*pi / inv_freq. */
    public double wavelength(int pair) {
        return 2 * Math.PI / invFreq[pair];
    }

    /** How much slower the pair rotates than unscaled: 1 = untouched, s = fully interpolated. */
    public double scale(int pair) {
        return baseInvFreq[pair] / invFreq[pair];
    }

    /** Classifies a pair against the largest scale seen, so every method reports bands the same way. */
    public Band band(int pair) {
        double maxScale = 1;
        for (int i = 0; i < pairs(); i++) {
            maxScale = Math.max(maxScale, scale(i));
        }
        double s = scale(pair);
        if (Math.abs(s - 1) < 1e-6) {
            return Band.EXTRAPOLATED;
        }
        if (Math.abs(s - maxScale) < 1e-6 * maxScale) {
            return Band.INTERPOLATED;
        }
        return Band.RAMP;
    }
}
