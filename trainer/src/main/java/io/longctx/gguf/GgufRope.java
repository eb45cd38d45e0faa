package io.longctx.gguf;

import io.longctx.rope.DynamicNtkScaling;
import io.longctx.rope.LinearScaling;
import io.longctx.rope.Llama3Scaling;
import io.longctx.rope.LongRopeScaling;
import io.longctx.rope.NoScaling;
import io.longctx.rope.NtkAwareScaling;
import io.longctx.rope.RopeGeometry;
import io.longctx.rope.RopeScaling;
import io.longctx.rope.YarnScaling;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How a RoPE scaling is written for llama.cpp, which reads fewer keys than HF: for the llama architecture the YaRN
 * ramp is fixed at beta 32/1 with floor/ceil bounds, only a plain attention multiplier on top of 0.1 ln s + 1 is
 * read, and nothing length-dependent exists. Expressible methods become rope.scaling keys, a changed rope.freq_base,
 * or per-pair frequency divisors (the {@code rope_freqs} tensor, llama architecture only); the rest are refused
 * with the key that cannot be carried.
 */
public final class GgufRope {
    private GgufRope() {
    }

    /** What the file carries for the scaling. */
    public sealed interface Form {
        /**
         * @param scalingKeys keys under {@code ARCH.rope.scaling.} (type, factor, ...)
         * @param freqBase rope.freq_base
         * @param freqFactors per-pair divisors of the base frequencies (tensor rope_freqs), or null
         */
        record Expressed(Map<String, Object> scalingKeys, double freqBase, float[] freqFactors) implements Form {
        }

        record Refused(String reason) implements Form {
        }
    }

    /** Null when llama.cpp can carry the scaling for this architecture, else one line naming the key. */
    public static String problem(RopeScaling scaling, RopeGeometry geometry, String architecture) {
        return of(scaling, geometry, architecture) instanceof Form.Refused refused ? refused.reason() : null;
    }

    public static Form of(RopeScaling scaling, RopeGeometry geometry, String architecture) {
        Map<String, Object> keys = new LinkedHashMap<>();
        if (scaling instanceof NoScaling) {
            return new Form.Expressed(keys, geometry.theta(), null);
        }
        if (scaling instanceof LinearScaling linear) {
            keys.put("type", "linear");
            keys.put("factor", linear.factor());
            return new Form.Expressed(keys, geometry.theta(), null);
        }
        if (scaling instanceof NtkAwareScaling ntk) {
            return new Form.Expressed(keys, ntk.scaledBase(geometry), null);
        }
        if (scaling instanceof Llama3Scaling llama3) {
            if (!architecture.equals("llama")) {
                return refused("rope_type", "llama3 needs per-pair frequency factors (rope_freqs), which llama.cpp "
                        + "reads for the llama architecture only, not " + architecture);
            }
            double[] base = geometry.baseInvFreq();
            double[] scaled = llama3.frequencies(geometry, 1).invFreq();
            float[] factors = new float[base.length];
            for (int i = 0; i < factors.length; i++) {
                factors[i] = (float) (base[i] / scaled[i]);
            }
            return new Form.Expressed(keys, geometry.theta(), factors);
        }
        if (scaling instanceof YarnScaling yarn) {
            return yarn(yarn, geometry, keys);
        }
        if (scaling instanceof DynamicNtkScaling) {
            return refused("rope_type", "dynamic NTK changes the frequencies with the sequence length; llama.cpp has "
                    + "no such mode");
        }
        if (scaling instanceof LongRopeScaling) {
            return refused("rope_type", "llama.cpp reads LongRoPE's short/long factors only for its phi3 "
                    + "architecture, not " + architecture);
        }
        return refused("rope_type", scaling.ropeType() + " has no llama.cpp form");
    }

    private static Form yarn(YarnScaling yarn, RopeGeometry geometry, Map<String, Object> keys) {
        if (yarn.dynamic()) {
            return refused("rope_type", "dynamic_yarn changes the factor with the sequence length; llama.cpp has no "
                    + "such mode (train and export with rope_type yarn)");
        }
        if (yarn.betaFast() != YarnScaling.DEFAULT_BETA_FAST) {
            return refused("beta_fast", "llama.cpp fixes YaRN's beta_fast at 32 for this architecture (got "
                    + yarn.betaFast() + ")");
        }
        if (yarn.betaSlow() != YarnScaling.DEFAULT_BETA_SLOW) {
            return refused("beta_slow", "llama.cpp fixes YaRN's beta_slow at 1 for this architecture (got "
                    + yarn.betaSlow() + ")");
        }
        if (yarn.mscale() != null) {
            return refused("mscale", "llama.cpp does not read mscale for this architecture; give the resulting "
                    + "attention_factor instead");
        }
        if (yarn.mscaleAllDim() != null) {
            return refused("mscale_all_dim", "llama.cpp does not read mscale_all_dim for this architecture; give the "
                    + "resulting attention_factor instead");
        }
        if (!yarn.truncate()) {
            return refused("truncate", "llama.cpp always rounds YaRN's correction range (floor/ceil), as truncate: "
                    + "true does");
        }
        keys.put("type", "yarn");
        keys.put("factor", yarn.factor());
        keys.put("original_context_length", yarn.originalContext());
        double own = yarnDefaultAttention(yarn.factor());
        double wanted = yarn.attentionFactorAt(yarn.originalContext());
        if (Math.abs(wanted - own) > 1e-12) {
            // llama.cpp multiplies its own 0.1 ln s + 1 by this
            keys.put("attn_factor", wanted / own);
        }
        return new Form.Expressed(keys, geometry.theta(), null);
    }

    private static double yarnDefaultAttention(double factor) {
        return factor <= 1 ? 1.0 : 0.1 * Math.log(factor) + 1.0;
    }

    private static Form refused(String key, String why) {
        return new Form.Refused("rope_scaling." + key + ": cannot be exported to GGUF: " + why);
    }
}
