package io.longctx.rope;

import java.util.Map;

/**
 * YaRN: NTK-by-parts interpolation plus an attention temperature ({@code yarn}). With {@code dynamic} set, the
 * factor follows the sequence length, s = max(1, l/L), as in the YaRN repository's dynamic variant (an
 * inference-time option that no HF config expresses).
 *
 * @param attentionFactor explicit attention factor, or null to derive it from mscale / mscale_all_dim / s
 * @param mscale optional DeepSeek-style mscale, or null
 * @param mscaleAllDim optional mscale_all_dim, or null
 * @param truncate floor/ceil the correction range (HF default true)
 */
public record YarnScaling(
        double factor, int originalContext, double betaFast, double betaSlow, Double attentionFactor, Double mscale,
        Double mscaleAllDim, boolean truncate, boolean dynamic) implements RopeScaling {

    public static final double DEFAULT_BETA_FAST = 32;
    public static final double DEFAULT_BETA_SLOW = 1;

    public static YarnScaling of(double factor, int originalContext) {
        return new YarnScaling(factor, originalContext, DEFAULT_BETA_FAST, DEFAULT_BETA_SLOW, null, null, null, true,
                false);
    }

    @Override
    public int originalContext(int fallback) {
        return originalContext;
    }

    @Override
    public String ropeType() {
        return dynamic ? "dynamic_yarn" : "yarn";
    }

    @Override
    public boolean dependsOnLength() {
        return dynamic;
    }

    /** The factor in force for a pass over seqLen positions. */
    public double factorAt(int seqLen) {
        return dynamic ? Math.max(1.0, (double) seqLen / originalContext) : factor;
    }

    /** correction_dim(r) = d * ln(L / (2*pi*r)) / (2 ln b): the pair index that completes r rotations over L. */
    static double correctionDim(double rotations, RopeGeometry g, int originalContext) {
        return g.rotaryDim() * Math.log(originalContext / (rotations * 2 * Math.PI)) / (2 * Math.log(g.theta()));
    }

    /** The ramp [low, high] in pair units, clamped to [0, d-1] as HF does. */
    public double[] correctionRange(RopeGeometry g) {
        double low = correctionDim(betaFast, g, originalContext);
        double high = correctionDim(betaSlow, g, originalContext);
        if (truncate) {
            low = Math.floor(low);
            high = Math.ceil(high);
        }
        return new double[] {Math.max(low, 0), Math.min(high, g.rotaryDim() - 1)};
    }

    public double attentionFactorAt(int seqLen) {
        double s = factorAt(seqLen);
        if (attentionFactor != null) {
            return attentionFactor;
        }
        if (mscale != null && mscaleAllDim != null && mscale != 0 && mscaleAllDim != 0) {
            return RopeScaling.yarnMscale(s, mscale) / RopeScaling.yarnMscale(s, mscaleAllDim);
        }
        return RopeScaling.yarnMscale(s, 1.0);
    }

    @Override
    public RopeFrequencies frequencies(RopeGeometry g, int seqLen) {
        double s = factorAt(seqLen);
        double[] base = g.baseInvFreq();
        double[] range = correctionRange(g);
        double low = range[0];
        double high = range[1] == range[0] ? range[1] + 0.001 : range[1];
        double[] inv = new double[base.length];
        for (int i = 0; i < inv.length; i++) {
            double ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
            double extrapolation = 1 - ramp;
            inv[i] = (float) ((base[i] / s) * (1 - extrapolation) + base[i] * extrapolation);
        }
        return new RopeFrequencies(ropeType(), inv, attentionFactorAt(seqLen), base, range[0], range[1]);
    }

    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> map = RopeScaling.hfMap(dynamic ? "dynamic_yarn" : "yarn", factor);
        map.put("original_max_position_embeddings", originalContext);
        map.put("beta_fast", betaFast);
        map.put("beta_slow", betaSlow);
        if (attentionFactor != null) {
            map.put("attention_factor", attentionFactor);
        }
        if (mscale != null) {
            map.put("mscale", mscale);
        }
        if (mscaleAllDim != null) {
            map.put("mscale_all_dim", mscaleAllDim);
        }
        if (!truncate) {
            map.put("truncate", false);
        }
        return map;
    }
}
