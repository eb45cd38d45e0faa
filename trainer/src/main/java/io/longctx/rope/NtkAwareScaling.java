package io.longctx.rope;

import java.util.Map;

/**
 * Static NTK-aware base change: b' = b * s^(d/(d-2)). HF has no rope_type for it; an exported checkpoint carries it
 * as a changed rope_theta instead (see {@link #scaledBase}).
 */
public record NtkAwareScaling(double factor) implements RopeScaling {
    @Override
    public String ropeType() {
        return "ntk";
    }

    public double scaledBase(RopeGeometry geometry) {
        int d = geometry.rotaryDim();
        return geometry.theta() * Math.pow(factor, (double) d / (d - 2));
    }

    @Override
    public RopeFrequencies frequencies(RopeGeometry geometry, int seqLen) {
        double[] inv = geometry.invFreqForBase(scaledBase(geometry));
        return RopeFrequencies.of(ropeType(), inv, 1.0, geometry.baseInvFreq());
    }

    @Override
    public Map<String, Object> toMap() {
        return RopeScaling.hfMap("ntk", factor);
    }
}
