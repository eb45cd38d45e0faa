package io.longctx.rope;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A RoPE scaling method with HF semantics. Each implementation turns the model's unscaled geometry into inverse
 * frequencies and an attention factor; the dynamic ones depend on the current sequence length.
 */
public sealed interface RopeScaling
        permits NoScaling, LinearScaling, NtkAwareScaling, DynamicNtkScaling, YarnScaling, Llama3Scaling,
        LongRopeScaling {

    /** The HF rope_type (or longctx's own name where HF has none). */
    String ropeType();

    /** The context multiplier s = L'/L; 1 for no scaling. */
    double factor();

    /** Frequencies for a forward pass over {@code seqLen} positions. */
    RopeFrequencies frequencies(RopeGeometry geometry, int seqLen);

    /** The pre-training context the factor refers to, or {@code fallback} for methods that do not record it. */
    default int originalContext(int fallback) {
        return fallback;
    }

    /** True when the frequencies change with the sequence length (dynamic NTK, dynamic YaRN, LongRoPE). */
    default boolean dependsOnLength() {
        return false;
    }

    /**
     * Every parameter under its HF key, as {@link RopeScalingParser} reads it back to an equal scaling (the recipe's
     * resolved form, results files). Keys equal to HF's defaults are left out where readers disagree on them.
     */
    Map<String, Object> toMap();

    /** How an HF config.json expresses this scaling. */
    sealed interface HfForm {
        /** No scaling: rope_scaling null. */
        record Unscaled() implements HfForm {
        }

        /** A v4 rope_scaling object. */
        record AsRopeScaling(Map<String, Object> ropeScaling) implements HfForm {
        }

        /** A changed rope_theta and no rope_scaling (a static base change has no rope_type). */
        record AsRopeTheta(double ropeTheta) implements HfForm {
        }

        /** Not expressible in a config.json; the reason names the way out. */
        record NotExportable(String reason) implements HfForm {
        }
    }

    default HfForm hfForm(RopeGeometry geometry) {
        if (this instanceof NoScaling) {
            return new HfForm.Unscaled();
        }
        if (this instanceof NtkAwareScaling ntk) {
            return new HfForm.AsRopeTheta(ntk.scaledBase(geometry));
        }
        if (this instanceof YarnScaling yarn && yarn.dynamic()) {
            return new HfForm.NotExportable("rope_type dynamic_yarn has no HF config form (it is an inference-time "
                    + "option); train and export with rope_type yarn instead");
        }
        return new HfForm.AsRopeScaling(toMap());
    }

    /** Helper for implementations: an ordered map starting with rope_type and factor. */
    static Map<String, Object> hfMap(String ropeType, double factor) {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("rope_type", ropeType);
        map.put("factor", factor);
        return map;
    }

    /** YaRN's attention temperature helper: 0.1 * m * ln(s) + 1, and 1 for s <= 1. */
    static double yarnMscale(double scale, double m) {
        return scale <= 1 ? 1.0 : 0.1 * m * Math.log(scale) + 1.0;
    }
}
