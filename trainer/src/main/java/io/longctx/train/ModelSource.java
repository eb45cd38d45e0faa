package io.longctx.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.LongctxException;
import io.longctx.model.ModelConfig;
import io.longctx.recipe.RecipeNode;
import java.nio.file.Path;
import java.util.Map;

/**
 * The {@code model} section: a pretrained HF directory, or {@code init: random} with an architecture given as HF
 * config keys (for the tiny demo models).
 *
 * @param path the HF model directory, or null for random initialisation
 * @param architecture HF config keys of a randomly initialised model, or null
 * @param initStd standard deviation of random initialisation (HF initializer_range)
 */
public record ModelSource(Path path, Map<String, Object> architecture, double initStd) {

    public boolean isRandom() {
        return path == null;
    }

    public static ModelSource parse(RecipeNode node, Path baseDir) {
        String pathText = node.string("path", null);
        String init = node.string("init", null);
        RecipeNode arch = node.get("architecture");
        double std = node.number("init_std", 0.02);
        if (pathText != null && init != null) {
            node.get("init").problem("give either model.path or model.init, not both");
        }
        if (pathText == null && init == null) {
            node.problem("needs path (an HF model directory) or init: random with an architecture");
        }
        if (init != null && !init.equals("random")) {
            node.get("init").problem("must be 'random', got '" + init + "'");
        }
        Map<String, Object> architecture = null;
        if (init != null) {
            if (!arch.isMapping()) {
                arch.problem("is required with init: random (HF config keys: model_type, hidden_size, ...)");
            } else {
                @SuppressWarnings("unchecked")
                Map<String, Object> plain = (Map<String, Object>) arch.toPlain();
                architecture = plain;
                try {
                    ModelConfig.parse(new ObjectMapper().valueToTree(architecture), "model.architecture");
                } catch (LongctxException e) {
                    arch.problem(e.getMessage().replaceFirst("^model\\.architecture: ", ""));
                }
            }
        } else if (!arch.isMissing()) {
            arch.problem("only applies with init: random (a pretrained model brings its config.json)");
        }
        node.require("init_std", std > 0, "must be positive");
        return new ModelSource(pathText == null ? null : baseDir.resolve(pathText).normalize(), architecture, std);
    }

    /** The architecture: the directory's config.json, or the recipe's keys. */
    public ModelConfig config() {
        if (path != null) {
            return ModelConfig.load(path);
        }
        JsonNode json = new ObjectMapper().valueToTree(architecture);
        return ModelConfig.parse(json, "model.architecture");
    }
}
