package io.longctx.recipe;

import io.longctx.LongctxException;
import java.util.List;

/** Every problem found in a recipe, each as "file:line: key.path: problem", reported together. */
public final class RecipeException extends LongctxException {
    private final List<String> problems;

    public RecipeException(List<String> problems) {
        super(problems.size() == 1 ? problems.get(0)
                : problems.size() + " problems in the recipe:\n  " + String.join("\n  ", problems));
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
        return problems;
    }
}
