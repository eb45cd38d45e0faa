package io.longctx.rope;

import java.util.Map;

/**
 * LongRoPE ({@code longrope}): per-pair rescale factors, the long set once the sequence exceeds L, the short set
 * otherwise; attention factor sqrt(1 + ln(s)/ln(L)) unless given.
 *
 * @param attentionFactor explicit attention factor, or null to derive it
 */
public record LongRopeScaling(
        double[] shortFactor, double[] longFactor, double factor, Double attentionFactor, int originalContext)
        implements RopeScaling {

    public LongRopeScaling {
        shortFactor = shortFactor.clone();
        longFactor = longFactor.clone();
    }

    /** Null when there is one factor per rotary pair, else what is wrong (checked before any work). */
    public String pairsProblem(int rotaryPairs) {
        return shortFactor.length == rotaryPairs ? null : "short_factor and long_factor have " + shortFactor.length
                + " entries, but the model has " + rotaryPairs + " rotary pairs (head_dim x partial_rotary_factor / 2)";
    }

    @Override
    public int originalContext(int fallback) {
        return originalContext;
    }

    @Override
    public String ropeType() {
        return "longrope";
    }

    @Override
    public boolean dependsOnLength() {
        return true;
    }

    public double attentionFactorValue() {
        if (attentionFactor != null) {
            return attentionFactor;
        }
        return factor <= 1 ? 1.0 : Math.sqrt(1 + Math.log(factor) / Math.log(originalContext));
    }

    @Override
    public RopeFrequencies frequencies(RopeGeometry geometry, int seqLen) {
        double[] ext = seqLen > originalContext ? longFactor : shortFactor;
        if (ext.length != geometry.pairs()) {
            throw new io.longctx.LongctxException("longrope factors have " + ext.length + " entries, the rotary "
                    + "dimension needs " + geometry.pairs());
        }
        double[] base = geometry.baseInvFreq();
        double[] inv = new double[base.length];
        for (int i = 0; i < inv.length; i++) {
            inv[i] = (float) (1.0 / (ext[i] * Math.pow(geometry.theta(), (2.0 * i) / geometry.rotaryDim())));
        }
        return RopeFrequencies.of(ropeType(), inv, attentionFactorValue(), base);
    }

    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> map = RopeScaling.hfMap("longrope", factor);
        map.put("short_factor", java.util.Arrays.stream(shortFactor).boxed().toList());
        map.put("long_factor", java.util.Arrays.stream(longFactor).boxed().toList());
        map.put("original_max_position_embeddings", originalContext);
        if (attentionFactor != null) {
            map.put("attention_factor", attentionFactor);
        }
        return map;
    }
}
