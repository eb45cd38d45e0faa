package io.longctx.recipe;

import java.util.ArrayList;
import java.util.List;

/** Collects recipe problems so that all of them are reported at once, before any work starts. */
public final class Problems {
    private final String source;
    private final List<String> items = new ArrayList<>();
    private final java.util.Set<String> paths = new java.util.HashSet<>();

    public Problems(String source) {
        this.source = source;
    }

    public String source() {
        return source;
    }

    public void add(int line, String path, String problem) {
        String where = line > 0 ? source + ":" + line : source;
        String item = where + ": " + (path.isEmpty() ? "" : path + ": ") + problem;
        if (!items.contains(item)) {
            items.add(item);
        }
        paths.add(path);
    }

    /** Whether a problem was reported at this key path (so checks that depend on its value can stand aside). */
    public boolean reported(String path) {
        return paths.contains(path);
    }

    public int count() {
        return items.size();
    }

    public boolean isEmpty() {
        return items.isEmpty();
    }

    public void throwIfAny() {
        if (!items.isEmpty()) {
            throw new RecipeException(items);
        }
    }
}
