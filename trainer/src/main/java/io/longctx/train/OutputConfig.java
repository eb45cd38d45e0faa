package io.longctx.train;

import io.longctx.recipe.RecipeNode;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The {@code output} section: the run folder and its checkpoints.
 *
 * @param dir run folder (checkpoints, metrics, resolved recipe, lock)
 * @param checkpointEvery steps between checkpoints (a checkpoint is also written at the end)
 * @param keepLast checkpoints kept; older ones are deleted
 */
public record OutputConfig(Path dir, int checkpointEvery, int keepLast) {

    public static OutputConfig parse(RecipeNode output, Path baseDir, Path defaultDir) {
        String dir = output.string("dir", null);
        int every = output.integer("checkpoint_every", 100);
        int keep = output.integer("keep_last", 3);
        output.require("checkpoint_every", every >= 1, "must be >= 1, got " + every);
        output.require("keep_last", keep >= 1, "must be >= 1, got " + keep);
        return new OutputConfig(dir == null ? defaultDir : baseDir.resolve(dir).normalize(), every, keep);
    }

    public Map<String, Object> toMap() {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("dir", dir.toString());
        map.put("checkpoint_every", checkpointEvery);
        map.put("keep_last", keepLast);
        return map;
    }
}
