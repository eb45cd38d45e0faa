package io.longctx.cli;

import io.longctx.train.Recipe;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The recipe argument and its --set overrides, shared by the commands that read a recipe. */
final class RecipeOptions {
    @Parameters(index = "0", paramLabel = "RECIPE", description = "A YAML recipe (see configs/).")
    Path recipe;

    @Option(names = "--set", paramLabel = "KEY=VALUE",
            description = "Override a recipe value, e.g. --set train.lr=1e-5 (repeatable).")
    List<String> overrides = new ArrayList<>();

    Recipe load() {
        return Recipe.load(recipe, overrides);
    }
}
