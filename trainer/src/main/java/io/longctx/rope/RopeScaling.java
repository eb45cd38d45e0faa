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
     * The HF v4 {@code rope_scaling} object for an exported config.json, or null when the method needs none.
     * Keys equal to HF's defaults are left out, since readers disagree on some of them.
     */
    Map<String, Object> toHfRopeScaling();

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
