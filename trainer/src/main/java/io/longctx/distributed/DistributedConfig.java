package io.longctx.distributed;

import io.longctx.recipe.RecipeNode;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The recipe's {@code distributed} section: how ranks talk. Neither value changes what a step computes, so both may
 * change on resume.
 *
 * @param bucketMb gradients are all-reduced in flattened buckets of about this many MiB
 * @param timeoutSeconds how long a collective (and joining the group) waits for a peer before the rank gives up
 */
public record DistributedConfig(int bucketMb, int timeoutSeconds) {
    public static final DistributedConfig DEFAULT = new DistributedConfig(25, 600);

    public static DistributedConfig parse(RecipeNode node) {
        if (node.isMissing()) {
            return DEFAULT;
        }
        int bucket = node.integer("bucket_mb", DEFAULT.bucketMb());
        int timeout = node.integer("timeout_s", DEFAULT.timeoutSeconds());
        node.require("bucket_mb", bucket >= 1, "must be >= 1 (MiB), got " + bucket);
        node.require("timeout_s", timeout >= 1, "must be >= 1 (seconds), got " + timeout);
        return new DistributedConfig(bucket, timeout);
    }

    public long bucketBytes() {
        return (long) bucketMb << 20;
    }

    public Map<String, Object> toMap() {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("bucket_mb", bucketMb);
        map.put("timeout_s", timeoutSeconds);
        return map;
    }
}
