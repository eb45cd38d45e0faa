package io.longctx.recipe;

import java.util.ArrayList;
import java.util.List;

/** Collects recipe problems so that all of them are reported at once, before any work starts. */
public final class Problems {
    private final String source;
    private final List<String> items = new ArrayList<>();

    public Problems(String source) {
        this.source = source;
    }

    public String source() {
        return source;
    }

    public void add(int line, String path, String problem) {
        String where = line > 0 ? source + ":" + line : source;
        items.add(where + ": " + (path.isEmpty() ? "" : path + ": ") + problem);
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
