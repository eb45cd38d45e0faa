package io.longctx.train;

import java.util.Map;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.Yaml;

/** The recipe with every default filled in, as YAML: saved with each run and checkpoint. */
public final class ResolvedRecipe {
    private ResolvedRecipe() {
    }

    public static String yaml(Recipe recipe) {
        return "# resolved from " + recipe.file() + " (defaults filled in)\n" + yaml(recipe.toMap());
    }

    static String yaml(Map<String, Object> map) {
        DumperOptions options = new DumperOptions();
        options.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
        options.setSplitLines(false);
        return new Yaml(options).dump(map);
    }
}
