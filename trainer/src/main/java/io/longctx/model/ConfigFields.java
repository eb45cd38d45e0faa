package io.longctx.model;

import com.fasterxml.jackson.databind.JsonNode;
import io.longctx.LongctxException;

/** Typed access to the keys of an HF config object, with messages that name the file and key. */
final class ConfigFields {
    private final JsonNode node;
    private final String source;

    ConfigFields(JsonNode node, String source) {
        this.node = node;
        this.source = source;
    }

    private JsonNode value(String key) {
        JsonNode value = node.get(key);
        return value == null || value.isNull() ? null : value;
    }

    private LongctxException error(String key, String problem) {
        return new LongctxException(source + ": " + key + " " + problem);
    }

    String string(String key, String defaultValue) {
        JsonNode value = value(key);
        if (value == null) {
            return defaultValue;
        }
        if (!value.isTextual()) {
            throw error(key, "must be a string, got " + value);
        }
        return value.textValue();
    }

    int integer(String key, Integer defaultValue) {
        JsonNode value = value(key);
        if (value == null) {
            if (defaultValue == null) {
                throw error(key, "is missing");
            }
            return defaultValue;
        }
        if (!value.isIntegralNumber() || !value.canConvertToInt()) {
            throw error(key, "must be an integer, got " + value);
        }
        return value.intValue();
    }

    double number(String key, double defaultValue) {
        JsonNode value = value(key);
        if (value == null) {
            return defaultValue;
        }
        if (!value.isNumber()) {
            throw error(key, "must be a number, got " + value);
        }
        return value.doubleValue();
    }

    boolean bool(String key, boolean defaultValue) {
        JsonNode value = value(key);
        if (value == null) {
            return defaultValue;
        }
        if (!value.isBoolean()) {
            throw error(key, "must be true or false, got " + value);
        }
        return value.booleanValue();
    }

    /** A token id; HF allows a list (several EOS ids), of which the first is taken. */
    Integer optionalTokenId(String key) {
        JsonNode value = value(key);
        if (value == null) {
            return null;
        }
        if (value.isArray() && !value.isEmpty()) {
            value = value.get(0);
        }
        if (!value.isIntegralNumber() || !value.canConvertToInt()) {
            throw error(key, "must be an integer token id, got " + value);
        }
        return value.intValue();
    }
}
