package io.longctx.train;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The differences between the resolved recipe a checkpoint was written under and today's, each judged by whether it
 * can change the run's trajectory. Only evaluation, checkpoint cadence, the store's folder, the divergence guard and
 * (under a constant schedule) the total step count may change on resume; anything else would silently mix two runs.
 */
public final class RecipeChanges {
    /** One changed key, with its values as the two recipes write them. */
    public record Change(String key, Object before, Object after, boolean safe) {
        public String describe() {
            return key + ": " + text(before) + " -> " + text(after);
        }

        private static String text(Object value) {
            return value == null ? "(absent)" : String.valueOf(value);
        }
    }

    private final List<Change> changes;

    private RecipeChanges(List<Change> changes) {
        this.changes = List.copyOf(changes);
    }

    /** Compares two resolved recipes (maps as {@link Recipe#toMap()} writes them, read back from YAML). */
    public static RecipeChanges between(Map<String, Object> before, Map<String, Object> after) {
        Map<String, Object> old = flatten(before);
        Map<String, Object> now = flatten(after);
        Set<String> keys = new LinkedHashSet<>(old.keySet());
        keys.addAll(now.keySet());
        boolean constantSchedule = "constant".equals(now.get("train.schedule"))
                && "constant".equals(old.get("train.schedule"));
        List<Change> changes = new ArrayList<>();
        for (String key : keys) {
            Object a = old.get(key);
            Object b = now.get(key);
            if (key.equals("output.dir") || Objects.equals(normal(a), normal(b))) {
                continue;
            }
            changes.add(new Change(key, a, b, safe(key, constantSchedule)));
        }
        return new RecipeChanges(changes);
    }

    private static boolean safe(String key, boolean constantSchedule) {
        return key.startsWith("eval.") || key.equals("output.checkpoint_every") || key.equals("output.keep_last")
                || key.equals("output.export") || key.startsWith("distributed.")
                || key.equals("data.store") || key.equals("train.max_bad_steps")
                || key.equals("train.steps") && constantSchedule;
    }

    /** Numbers compare by value (YAML may read 2 back as 2.0 after a round trip through another writer). */
    private static Object normal(Object value) {
        return value instanceof Number n ? (Object) n.doubleValue() : value;
    }

    /** Nested mappings as dotted keys; lists of mappings by index (data.sources[0].path); other lists whole. */
    static Map<String, Object> flatten(Map<String, Object> map) {
        Map<String, Object> out = new LinkedHashMap<>();
        flatten("", map, out);
        return out;
    }

    private static void flatten(String prefix, Object value, Map<String, Object> out) {
        if (value instanceof Map<?, ?> map) {
            for (Map.Entry<?, ?> e : map.entrySet()) {
                flatten(prefix.isEmpty() ? String.valueOf(e.getKey()) : prefix + "." + e.getKey(), e.getValue(), out);
            }
        } else if (value instanceof List<?> list && !list.isEmpty() && list.get(0) instanceof Map) {
            for (int i = 0; i < list.size(); i++) {
                flatten(prefix + "[" + i + "]", list.get(i), out);
            }
        } else {
            out.put(prefix, value instanceof List<?> list ? list.stream().map(RecipeChanges::normal).toList()
                    : value);
        }
    }

    public List<Change> all() {
        return changes;
    }

    public List<Change> refused() {
        return changes.stream().filter(c -> !c.safe()).toList();
    }

    public List<Change> applied() {
        return changes.stream().filter(Change::safe).toList();
    }
}
