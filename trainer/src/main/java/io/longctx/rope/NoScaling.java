package io.longctx.rope;

import java.util.Map;

/** Plain RoPE as pre-trained ({@code rope_type: default}). */
public record NoScaling() implements RopeScaling {
    @Override
    public String ropeType() {
        return "default";
    }

    @Override
    public double factor() {
        return 1.0;
    }

    @Override
    public RopeFrequencies frequencies(RopeGeometry geometry, int seqLen) {
        double[] base = geometry.baseInvFreq();
        return RopeFrequencies.of(ropeType(), base, 1.0, base);
    }

    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> map = new java.util.LinkedHashMap<>();
        map.put("rope_type", "default");
        return map;
    }
}
