package io.longctx.rope;

import java.util.Map;

/**
 * Dynamic NTK ({@code dynamic}): b' = b * ((s*l/L) - (s-1))^(d/(d-2)) with l = max(current length, L); plain RoPE up
 * to L. Meant for inference.
 */
public record DynamicNtkScaling(double factor, int originalContext) implements RopeScaling {
    @Override
    public int originalContext(int fallback) {
        return originalContext;
    }

    @Override
    public String ropeType() {
        return "dynamic";
    }

    @Override
    public boolean dependsOnLength() {
        return true;
    }

    public double baseAt(RopeGeometry geometry, int seqLen) {
        int d = geometry.rotaryDim();
        double l = Math.max(seqLen, originalContext);
        return geometry.theta() * Math.pow(factor * l / originalContext - (factor - 1), (double) d / (d - 2));
    }

    @Override
    public RopeFrequencies frequencies(RopeGeometry geometry, int seqLen) {
        double[] inv = seqLen > originalContext
                ? geometry.invFreqForBase(baseAt(geometry, seqLen))
                : geometry.baseInvFreq();
        return RopeFrequencies.of(ropeType(), inv, 1.0, geometry.baseInvFreq());
    }

    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> map = RopeScaling.hfMap("dynamic", factor);
        map.put("original_max_position_embeddings", originalContext);
        return map;
    }
}
