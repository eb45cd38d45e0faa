package io.longctx.rope;

import java.util.Map;

/**
 * Llama 3.1's scaling ({@code llama3}): long wavelengths divided by s, short ones untouched, a smooth blend between
 * L/low_freq_factor and L/high_freq_factor.
 */
public record Llama3Scaling(double factor, double lowFreqFactor, double highFreqFactor, int originalContext)
        implements RopeScaling {

    @Override
    public int originalContext(int fallback) {
        return originalContext;
    }

    @Override
    public String ropeType() {
        return "llama3";
    }

    @Override
    public RopeFrequencies frequencies(RopeGeometry geometry, int seqLen) {
        double[] base = geometry.baseInvFreq();
        double lowFreqWavelen = originalContext / lowFreqFactor;
        double highFreqWavelen = originalContext / highFreqFactor;
        double[] inv = new double[base.length];
        for (int i = 0; i < inv.length; i++) {
            double wavelen = 2 * Math.PI / base[i];
            if (wavelen > lowFreqWavelen) {
                inv[i] = base[i] / factor;
            } else if (wavelen < highFreqWavelen) {
                inv[i] = base[i];
            } else {
                double smooth = (originalContext / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                inv[i] = (1 - smooth) * base[i] / factor + smooth * base[i];
            }
            inv[i] = (float) inv[i];
        }
        return RopeFrequencies.of(ropeType(), inv, 1.0, base);
    }

    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> map = RopeScaling.hfMap("llama3", factor);
        map.put("low_freq_factor", lowFreqFactor);
        map.put("high_freq_factor", highFreqFactor);
        map.put("original_max_position_embeddings", originalContext);
        return map;
    }
}
