package io.longctx.rope;

import java.util.Map;

/**
 * Position interpolation ({@code linear}): every frequency divided by s.
 *
 * @param originalContext the context the factor extends, recorded so a re-export does not multiply it again
 */
public record LinearScaling(double factor, int originalContext) implements RopeScaling {
    @Override
    public int originalContext(int fallback) {
        return originalContext;
    }

    @Override
    public String ropeType() {
        return "linear";
    }

    @Override
    public RopeFrequencies frequencies(RopeGeometry geometry, int seqLen) {
        double[] base = geometry.baseInvFreq();
        double[] inv = new double[base.length];
        for (int i = 0; i < inv.length; i++) {
            inv[i] = (float) (base[i] / factor);
        }
        return RopeFrequencies.of(ropeType(), inv, 1.0, base);
    }

    @Override
    public Map<String, Object> toMap() {
        return RopeScaling.hfMap("linear", factor);
    }
}
