package io.longctx.train;

import io.longctx.recipe.RecipeNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The {@code output} section: the run folder, its checkpoints, and the exports written when the run completes.
 *
 * @param dir run folder (checkpoints, metrics, resolved recipe, lock)
 * @param checkpointEvery steps between checkpoints (a checkpoint is also written at the end)
 * @param keepLast checkpoints kept; older ones are deleted
 * @param export formats the final checkpoint is exported to under {@code dir/export}: hf (a directory), gguf
 */
public record OutputConfig(Path dir, int checkpointEvery, int keepLast, List<ExportFormat> export) {

    /** What a completed run exports. */
    public enum ExportFormat {
        HF, GGUF;

        public String recipeName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public OutputConfig {
        export = List.copyOf(export);
    }

    public static OutputConfig parse(RecipeNode output, Path baseDir, Path defaultDir) {
        String dir = output.string("dir", null);
        int every = output.integer("checkpoint_every", 100);
        int keep = output.integer("keep_last", 3);
        output.require("checkpoint_every", every >= 1, "must be >= 1, got " + every);
        output.require("keep_last", keep >= 1, "must be >= 1, got " + keep);
        List<ExportFormat> export = new ArrayList<>();
        for (RecipeNode item : output.get("export").elements()) {
            String name = item.text();
            ExportFormat format = null;
            for (ExportFormat f : ExportFormat.values()) {
                format = f.recipeName().equals(name) ? f : format;
            }
            if (format == null) {
                item.problem("unknown export format '" + name + "' (known: hf, gguf)");
            } else if (export.contains(format)) {
                item.problem("'" + name + "' is listed twice");
            } else {
                export.add(format);
            }
        }
        return new OutputConfig(dir == null ? defaultDir : baseDir.resolve(dir).normalize(), every, keep, export);
    }

    /** Where a completed run writes an export. */
    public Path exportPath(ExportFormat format) {
        Path exports = dir.resolve("export");
        return format == ExportFormat.HF ? exports.resolve("hf") : exports.resolve("model.gguf");
    }

    public Map<String, Object> toMap() {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("dir", dir.toString());
        map.put("checkpoint_every", checkpointEvery);
        map.put("keep_last", keepLast);
        map.put("export", export.stream().map(ExportFormat::recipeName).toList());
        return map;
    }
}
