package io.longctx.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.LongctxException;
import io.longctx.data.store.TokenStore;
import io.longctx.model.HfCheckpoint;
import io.longctx.model.ModelConfig;
import io.longctx.recipe.RecipeNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The {@code model} section: a pretrained HF directory, a longctx checkpoint folder (a new run from trained weights
 * with a fresh optimizer and schedule), or {@code init: random} with an architecture given as HF config keys (for
 * the tiny demo models). The architecture is read once, here.
 *
 * @param path the HF model directory or checkpoint folder, or null for random initialisation
 * @param architecture HF config keys of a randomly initialised model, or null
 * @param initStd standard deviation of random initialisation (HF initializer_range)
 * @param config the base architecture (before the recipe's rope_scaling)
 * @param baseConfigJson the base's config.json as read (kept for export), or null for random initialisation
 */
public record ModelSource(Path path, Map<String, Object> architecture, double initStd, ModelConfig config,
        JsonNode baseConfigJson) {

    public boolean isRandom() {
        return path == null;
    }

    /** Whether the path is a longctx checkpoint folder rather than an HF model directory. */
    public boolean isCheckpoint() {
        return path != null && isCheckpointFolder(path);
    }

    static boolean isCheckpointFolder(Path dir) {
        return Files.isRegularFile(dir.resolve(Checkpoints.MANIFEST)) && Files.isRegularFile(dir.resolve("state.json"));
    }

    /** Where {@code tokenizer: model} finds tokenizer.json: the model directory, or a checkpoint's tokenizer/. */
    public Path tokenizerDir() {
        if (path == null) {
            return null;
        }
        return isCheckpoint() ? path.resolve(TokenStore.TOKENIZER_DIR) : path;
    }

    /** Reads the section; null when a problem was reported. */
    public static ModelSource parse(RecipeNode node, Path baseDir) {
        int before = node.problems().count();
        String pathText = node.string("path", null);
        String init = node.string("init", null);
        RecipeNode arch = node.get("architecture");
        double std = node.number("init_std", 0.02);
        if (pathText != null && init != null) {
            node.get("init").problem("give either model.path or model.init, not both");
        }
        if (pathText == null && init == null) {
            node.problem("needs path (an HF model directory or a checkpoint folder) or init: random with an "
                    + "architecture");
        }
        if (init != null && !init.equals("random")) {
            node.get("init").problem("must be 'random', got '" + init + "'");
        }
        node.require("init_std", std > 0, "must be positive");
        ModelConfig config = null;
        Map<String, Object> architecture = null;
        JsonNode baseJson = null;
        Path path = pathText == null ? null : baseDir.resolve(pathText).normalize();
        if (init != null) {
            if (!arch.isMapping()) {
                arch.problem("is required with init: random (HF config keys: model_type, hidden_size, ...)");
            } else {
                @SuppressWarnings("unchecked")
                Map<String, Object> plain = (Map<String, Object>) arch.plainValue();
                architecture = plain;
                config = ModelConfig.parse(arch, "model.architecture");
            }
        } else if (!arch.isMissing()) {
            arch.problem("only applies with init: random (a pretrained model brings its config.json)");
        } else if (path != null) {
            try {
                baseJson = readConfigJson(path);
                config = ModelConfig.parse(baseJson, path.resolve("config.json").toString());
                HfCheckpoint.locate(path);
            } catch (LongctxException e) {
                node.get("path").problem(e.getMessage());
            }
        }
        if (node.problems().count() > before) {
            return null;
        }
        return new ModelSource(path, architecture, std, config, baseJson);
    }

    private static JsonNode readConfigJson(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new LongctxException(dir + ": model directory not found");
        }
        Path file = dir.resolve("config.json");
        if (!Files.isRegularFile(file)) {
            throw new LongctxException(file + ": not found (an HF model directory or a checkpoint folder needs "
                    + "config.json)");
        }
        try {
            return new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new LongctxException(file + ": not valid JSON (" + e.getMessage().lines().findFirst().orElse("")
                    + ")");
        }
    }

    /** The recipe form of the section. */
    public Map<String, Object> toMap() {
        Map<String, Object> model = new LinkedHashMap<>();
        if (isRandom()) {
            model.put("init", "random");
            model.put("init_std", initStd);
            model.put("architecture", architecture);
        } else {
            model.put("path", path.toString());
        }
        return model;
    }
}
