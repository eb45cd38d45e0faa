package io.longctx.rope;

import com.fasterxml.jackson.databind.JsonNode;
import io.longctx.LongctxException;

/**
 * Reads an HF {@code rope_scaling} (transformers v4) or {@code rope_parameters} (v5) object into a
 * {@link RopeScaling}. The legacy key {@code type} is accepted for {@code rope_type}; keys that only v5 puts there
 * (rope_theta, partial_rotary_factor) are left to the model config.
 */
public final class RopeScalingParser {
    private final String source;
    private final int maxPositions;
    private final Integer topLevelOriginal;

    /**
     * @param source what to name in error messages, e.g. "config.json: rope_scaling"
     * @param maxPositions the config's max_position_embeddings
     * @param topLevelOriginal a top-level original_max_position_embeddings (Phi-3 style), or null
     */
    public RopeScalingParser(String source, int maxPositions, Integer topLevelOriginal) {
        this.source = source;
        this.maxPositions = maxPositions;
        this.topLevelOriginal = topLevelOriginal;
    }

    public RopeScaling parse(JsonNode node) {
        if (node == null || node.isNull() || node.isMissingNode()) {
            return new NoScaling();
        }
        if (!node.isObject()) {
            throw error("", "must be an object, got " + node.getNodeType());
        }
        String type = text(node, "rope_type", null);
        if (type == null) {
            type = text(node, "type", "default");
        }
        return switch (type) {
            case "default", "none" -> new NoScaling();
            case "linear" -> new LinearScaling(factor(node));
            case "ntk", "ntk_aware", "ntk-aware" -> new NtkAwareScaling(factor(node));
            case "dynamic" -> new DynamicNtkScaling(factor(node), original(node));
            case "yarn", "dynamic_yarn", "dynamic-yarn" -> yarn(node, !type.equals("yarn"));
            case "llama3" -> new Llama3Scaling(factor(node), number(node, "low_freq_factor", null),
                    number(node, "high_freq_factor", null), requiredInt(node, "original_max_position_embeddings"));
            case "longrope" -> longRope(node);
            default -> throw error("rope_type", "unknown method '" + type + "' (known: default, linear, ntk, dynamic, "
                    + "yarn, dynamic_yarn, llama3, longrope)");
        };
    }

    private YarnScaling yarn(JsonNode node, boolean dynamic) {
        Double attention = optionalNumber(node, "attention_factor");
        JsonNode truncate = node.get("truncate");
        if (truncate != null && !truncate.isNull() && !truncate.isBoolean()) {
            throw error("truncate", "must be true or false");
        }
        return new YarnScaling(factor(node), original(node),
                number(node, "beta_fast", YarnScaling.DEFAULT_BETA_FAST),
                number(node, "beta_slow", YarnScaling.DEFAULT_BETA_SLOW),
                attention, optionalNumber(node, "mscale"), optionalNumber(node, "mscale_all_dim"),
                truncate == null || truncate.isNull() || truncate.booleanValue(), dynamic);
    }

    private LongRopeScaling longRope(JsonNode node) {
        double[] shortFactor = numberArray(node, "short_factor");
        double[] longFactor = numberArray(node, "long_factor");
        if (shortFactor.length != longFactor.length) {
            throw error("long_factor", "has " + longFactor.length + " entries but short_factor has "
                    + shortFactor.length);
        }
        int original = original(node);
        Double factor = optionalNumber(node, "factor");
        double s = factor != null ? factor : (double) maxPositions / original;
        return new LongRopeScaling(shortFactor, longFactor, s, optionalNumber(node, "attention_factor"), original);
    }

    /** The pre-training context: the scaling's own key, else a top-level one, else max_position_embeddings. */
    private int original(JsonNode node) {
        JsonNode value = node.get("original_max_position_embeddings");
        if (value != null && !value.isNull()) {
            return requiredInt(node, "original_max_position_embeddings");
        }
        return topLevelOriginal != null ? topLevelOriginal : maxPositions;
    }

    private double factor(JsonNode node) {
        double factor = number(node, "factor", null);
        if (!(factor >= 1.0) || Double.isInfinite(factor)) {
            throw error("factor", "must be a finite number >= 1, got " + node.get("factor"));
        }
        return factor;
    }

    private int requiredInt(JsonNode node, String key) {
        JsonNode value = node.get(key);
        if (value == null || value.isNull()) {
            throw error(key, "is required");
        }
        if (!value.canConvertToInt() || !value.isIntegralNumber() && value.doubleValue() != Math.rint(value.doubleValue())
                || value.intValue() <= 0) {
            throw error(key, "must be a positive integer, got " + value);
        }
        return value.intValue();
    }

    private double number(JsonNode node, String key, Double defaultValue) {
        Double value = optionalNumber(node, key);
        if (value == null) {
            if (defaultValue == null) {
                throw error(key, "is required");
            }
            return defaultValue;
        }
        return value;
    }

    private Double optionalNumber(JsonNode node, String key) {
        JsonNode value = node.get(key);
        if (value == null || value.isNull()) {
            return null;
        }
        if (!value.isNumber() || !Double.isFinite(value.doubleValue())) {
            throw error(key, "must be a number, got " + value);
        }
        return value.doubleValue();
    }

    private double[] numberArray(JsonNode node, String key) {
        JsonNode value = node.get(key);
        if (value == null || !value.isArray() || value.isEmpty()) {
            throw error(key, "must be a non-empty list of numbers");
        }
        double[] out = new double[value.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode item = value.get(i);
            if (!item.isNumber() || !(item.doubleValue() > 0)) {
                throw error(key + "[" + i + "]", "must be a positive number, got " + item);
            }
            out[i] = item.doubleValue();
        }
        return out;
    }

    private String text(JsonNode node, String key, String defaultValue) {
        JsonNode value = node.get(key);
        if (value == null || value.isNull()) {
            return defaultValue;
        }
        if (!value.isTextual()) {
            throw error(key, "must be a string, got " + value);
        }
        return value.textValue();
    }

    private LongctxException error(String key, String problem) {
        return new LongctxException(source + (key.isEmpty() ? "" : "." + key) + " " + problem);
    }
}
