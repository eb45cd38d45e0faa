package io.longctx.rope;

import io.longctx.recipe.RecipeNode;

/**
 * Reads an HF {@code rope_scaling} (transformers v4) or {@code rope_parameters} (v5) mapping into a
 * {@link RopeScaling}, from a recipe or a config.json alike. The legacy key {@code type} is accepted for
 * {@code rope_type}; keys that only v5 puts there (rope_theta, partial_rotary_factor) are left to the model config.
 * Every problem is reported into the node's problems with its key and line; the caller decides whether keys the
 * method does not use are errors (a recipe) or are ignored (a config.json written by another tool).
 */
public final class RopeScalingParser {
    /** Keys transformers v5 keeps inside rope_parameters that belong to the model, not the scaling. */
    private static final java.util.List<String> MODEL_KEYS = java.util.List.of("rope_theta", "partial_rotary_factor");

    private static final java.util.Set<String> KNOWN_KEYS = java.util.Set.of("factor",
            "original_max_position_embeddings", "beta_fast", "beta_slow", "attention_factor", "mscale",
            "mscale_all_dim", "truncate", "attn_factor", "low_freq_factor", "high_freq_factor", "short_factor", "long_factor");

    private final int maxPositions;
    private final Integer topLevelOriginal;

    /**
     * @param maxPositions the config's max_position_embeddings
     * @param topLevelOriginal a top-level original_max_position_embeddings (Phi-3 style), or null
     */
    public RopeScalingParser(int maxPositions, Integer topLevelOriginal) {
        this.maxPositions = maxPositions;
        this.topLevelOriginal = topLevelOriginal;
    }

    /**
     * Reads a JSON rope_scaling object given on its own (a --rope-scaling argument, a test), strictly: a key the
     * method does not use is an error. Fails with every problem, each naming the source and key.
     */
    public RopeScaling parseStrict(com.fasterxml.jackson.databind.JsonNode json, String source) {
        RecipeNode node = RecipeNode.fromJson(json, source);
        RopeScaling scaling = parse(node);
        node.finish();
        node.problems().throwIfAny();
        return scaling;
    }

    /** The scaling, {@link NoScaling} when the node is absent, or null when a problem was reported. */
    public RopeScaling parse(RecipeNode node) {
        if (node.isMissing()) {
            return new NoScaling();
        }
        if (!node.isMapping()) {
            node.problem("must be a mapping of HF rope_scaling keys (rope_type, factor, ...)");
            return null;
        }
        int before = node.problems().count();
        MODEL_KEYS.forEach(node::get);
        // every method may name the context it extends (HF writes it for linear and NTK too); checked when given
        original(node);
        String type = node.string("rope_type", null);
        String legacy = node.string("type", null);
        if (type == null) {
            type = legacy == null ? "default" : legacy;
        }
        if (type.equals("default") && !node.has("rope_type") && !node.has("type")) {
            // no method named: its known keys are not also reported, only what is unknown (a misspelt rope_type)
            node.keys().stream().filter(KNOWN_KEYS::contains).forEach(node::get);
        }
        RopeScaling scaling = switch (type) {
            case "default", "none" -> new NoScaling();
            case "linear" -> new LinearScaling(factor(node), original(node));
            case "ntk", "ntk_aware", "ntk-aware" -> new NtkAwareScaling(factor(node));
            case "dynamic" -> new DynamicNtkScaling(factor(node), original(node));
            case "yarn", "dynamic_yarn", "dynamic-yarn" -> yarn(node, !type.equals("yarn"));
            case "llama3" -> new Llama3Scaling(factor(node), node.number("low_freq_factor", 1.0),
                    node.number("high_freq_factor", 4.0), positive(node, node.requiredInteger(
                            "original_max_position_embeddings"), "original_max_position_embeddings"));
            case "longrope" -> longRope(node);
            default -> {
                node.get(node.has("rope_type") ? "rope_type" : "type").problem("unknown method '" + type
                        + "' (known: default, linear, ntk, dynamic, yarn, dynamic_yarn, llama3, longrope)");
                yield null;
            }
        };
        return node.problems().count() == before ? scaling : null;
    }

    private YarnScaling yarn(RecipeNode node, boolean dynamic) {
        double betaFast = node.number("beta_fast", YarnScaling.DEFAULT_BETA_FAST);
        double betaSlow = node.number("beta_slow", YarnScaling.DEFAULT_BETA_SLOW);
        node.require("beta_slow", betaSlow > 0 && betaSlow < betaFast, "must be positive and below beta_fast ("
                + betaFast + "), got " + betaSlow);
        Double attention = node.optionalNumber("attention_factor");
        node.require("attention_factor", attention == null || attention > 0, "must be positive, got " + attention);
        double factor = factor(node);
        // vLLM's (and llama.cpp's) form: a multiplier on top of YaRN's own 0.1 ln s + 1
        Double multiplier = node.optionalNumber("attn_factor");
        if (multiplier != null) {
            double implied = multiplier * RopeScaling.yarnMscale(factor, 1.0);
            node.require("attn_factor", multiplier > 0 && (attention == null
                    || Math.abs(implied - attention) <= 1e-9 * Math.max(1, attention)), "must be positive and equal "
                    + "attention_factor / (0.1 ln factor + 1) when both are given, got " + multiplier);
            attention = attention == null ? implied : attention;
        }
        Boolean truncate = node.optionalBool("truncate");
        return new YarnScaling(factor, original(node), betaFast, betaSlow, attention,
                node.optionalNumber("mscale"), node.optionalNumber("mscale_all_dim"), truncate == null || truncate,
                dynamic);
    }

    private LongRopeScaling longRope(RecipeNode node) {
        double[] shortFactor = factors(node, "short_factor");
        double[] longFactor = factors(node, "long_factor");
        if (shortFactor.length != longFactor.length) {
            node.require("long_factor", false, "has " + longFactor.length + " entries but short_factor has "
                    + shortFactor.length);
        }
        int original = original(node);
        Double factor = node.optionalNumber("factor");
        node.require("factor", factor == null || factor >= 1, "must be a finite number >= 1, got " + factor);
        double s = factor != null ? factor : (double) maxPositions / original;
        return new LongRopeScaling(shortFactor, longFactor, s, node.optionalNumber("attention_factor"), original);
    }

    private static double[] factors(RecipeNode node, String key) {
        double[] values = node.numbers(key);
        if (values == null || values.length == 0) {
            node.require(key, false, "must be a non-empty list of positive numbers (one per rotary pair)");
            return new double[] {1.0};
        }
        for (double v : values) {
            if (!(v > 0)) {
                node.require(key, false, "every entry must be positive, got " + v);
            }
        }
        return values;
    }

    /** The pre-training context: the scaling's own key, else a top-level one, else max_position_embeddings. */
    private int original(RecipeNode node) {
        Integer value = node.optionalInteger("original_max_position_embeddings");
        if (value != null) {
            return positive(node, value, "original_max_position_embeddings");
        }
        return topLevelOriginal != null ? topLevelOriginal : maxPositions;
    }

    private static int positive(RecipeNode node, int value, String key) {
        node.require(key, value > 0, "must be a positive integer, got " + value);
        return Math.max(1, value);
    }

    private static double factor(RecipeNode node) {
        Double factor = node.optionalNumber("factor");
        if (factor == null) {
            node.require("factor", node.hasProblem("factor") , "is required");
            return 1.0;
        }
        node.require("factor", factor >= 1.0, "must be a finite number >= 1, got " + factor);
        return Math.max(1.0, factor);
    }
}
