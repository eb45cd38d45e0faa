package io.longctx.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.LongctxException;
import io.longctx.data.DataConfig;
import io.longctx.model.ModelConfig;
import io.longctx.recipe.RecipeNode;
import io.longctx.rope.RopeScaling;
import io.longctx.rope.RopeScalingParser;
import java.nio.file.Path;
import java.util.List;

/**
 * A whole training recipe, parsed strictly from YAML into immutable records: every unknown key, wrong type, missing
 * field and invalid value is reported together, with its key path and line, before any work starts.
 *
 * @param ropeScaling the scaling the run trains with, or null to keep the model's own
 */
public record Recipe(
        Path file, ModelSource model, RopeScaling ropeScaling, DataConfig data, TrainConfig train, RunConfig run) {

    public static Recipe load(Path file, List<String> overrides) {
        RecipeNode root = RecipeNode.load(file, overrides);
        Path baseDir = file.toAbsolutePath().getParent();
        return parse(root, file, baseDir);
    }

    public static Recipe parse(RecipeNode root, Path file, Path baseDir) {
        String name = file.getFileName().toString().replaceFirst("\\.ya?ml$", "");
        Path defaultOutput = Path.of("checkpoints", name);
        ModelSource model = ModelSource.parse(root.get("model"), baseDir);
        ModelConfig architecture = null;
        if (root.problems().isEmpty()) {
            try {
                architecture = model.config();
            } catch (LongctxException e) {
                root.get("model").problem(e.getMessage());
            }
        }
        RecipeNode ropeNode = root.get("rope_scaling");
        RopeScaling scaling = null;
        if (!ropeNode.isMissing()) {
            try {
                scaling = new RopeScalingParser("rope_scaling", architecture == null ? 1
                        : architecture.maxPositions(), null)
                        .parse(new ObjectMapper().valueToTree(ropeNode.toPlain()));
            } catch (LongctxException e) {
                ropeNode.problem(e.getMessage().replaceFirst("^rope_scaling\\.?", "").trim());
            }
        }
        RecipeNode dataNode = root.get("data");
        DataConfig data = DataConfig.parse(dataNode, baseDir, model.path(),
                defaultOutput.resolve("store"));
        TrainConfig train = TrainConfig.parse(root.get("train"));
        RunConfig run = RunConfig.parse(root, baseDir, defaultOutput);
        root.finish();
        if (architecture != null && root.problems().isEmpty()) {
            checkLengths(root, architecture, scaling, data);
            checkEvalLengths(root, run, data);
        }
        root.problems().throwIfAny();
        return new Recipe(file, model, scaling, data, train, run);
    }

    /** Context extension must train beyond the original context, and within what the scaling covers. */
    private static void checkLengths(RecipeNode root, ModelConfig architecture, RopeScaling scaling,
            DataConfig data) {
        int seqLen = data.packing().seqLen();
        RecipeNode seqNode = root.get("data").get("packing");
        int original = scaling == null ? architecture.maxPositions()
                : scaling.originalContext(architecture.maxPositions());
        if (scaling != null && scaling.factor() > 1) {
            seqNode.require("seq_len", seqLen > original, "must be above the original context " + original
                    + " when rope_scaling extends it (got " + seqLen + ")");
            double covered = scaling.factor() * original;
            seqNode.require("seq_len", seqLen <= covered, "exceeds rope_scaling.factor x original context = "
                    + (long) covered + " (got " + seqLen + ")");
        } else {
            seqNode.require("seq_len", seqLen <= original, "is above the model's context " + original
                    + "; add rope_scaling to extend it (got " + seqLen + ")");
        }
    }

    private static void checkEvalLengths(RecipeNode root, RunConfig run, DataConfig data) {
        for (int length : run.evalLengths()) {
            root.get("eval").require("lengths", length <= data.packing().seqLen(), "each length must be at most "
                    + "data.packing.seq_len = " + data.packing().seqLen() + " (got " + length + ")");
        }
    }

    /** The architecture the run trains: the model's, with the recipe's scaling when it gives one. */
    public ModelConfig architecture() {
        ModelConfig config = model.config();
        return ropeScaling == null ? config : config.withRopeScaling(ropeScaling);
    }
}
