package io.longctx.data.source;

import io.longctx.data.retrieval.RetrievalSource;
import io.longctx.recipe.RecipeNode;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Where documents come from and how to read them.
 *
 * @param type text (one file = one document), jsonl (one object per line), csv or tsv (one record per document)
 * @param path a file or a directory (searched recursively)
 * @param glob file-name filter for directories, e.g. "**&#47;*.txt"; matched against the path relative to it
 * @param textField JSON Lines field holding the text
 * @param idField optional JSON Lines field holding a document id
 * @param textColumn CSV/TSV column holding the text: a header name, or a 0-based index
 * @param header whether CSV/TSV files start with a header row
 * @param onError what to do with a malformed line or record: fail (with file:line) or skip (counted)
 * @param retrieval type retrieval: how its synthetic documents are generated (no files are read); else null
 */
public record SourceConfig(
        Type type, Path path, String glob, String textField, String idField, String textColumn, boolean header,
        OnError onError, RetrievalSource retrieval) {

    public enum Type {
        TEXT, JSONL, CSV, TSV, RETRIEVAL
    }

    public SourceConfig(Type type, Path path, String glob, String textField, String idField, String textColumn,
            boolean header, OnError onError) {
        this(type, path, glob, textField, idField, textColumn, header, onError, null);
    }

    /** Whether the source reads files (every type but retrieval). */
    public boolean readsFiles() {
        return retrieval == null;
    }

    public enum OnError {
        FAIL, SKIP
    }

    /** The default glob of a type, so a directory of mixed files reads only what the type can parse. */
    public static String defaultGlob(Type type) {
        return switch (type) {
            case TEXT -> "**";
            case JSONL -> "**.{jsonl,json,jsonl.gz,json.gz}";
            case CSV -> "**.{csv,csv.gz}";
            case TSV -> "**.{tsv,tsv.gz}";
            case RETRIEVAL -> "";
        };
    }

    public static SourceConfig text(Path path) {
        return new SourceConfig(Type.TEXT, path, defaultGlob(Type.TEXT), null, null, null, true, OnError.FAIL);
    }

    public static SourceConfig jsonl(Path path, String textField, String idField, OnError onError) {
        return new SourceConfig(Type.JSONL, path, defaultGlob(Type.JSONL), textField, idField, null, true, onError);
    }

    /** Reads one entry of {@code data.sources}; paths are resolved against the recipe's folder. */
    public static SourceConfig parse(RecipeNode node, Path baseDir) {
        Type type = node.enumValue("type", Type.class, Type.TEXT);
        if (type == Type.RETRIEVAL) {
            return new SourceConfig(type, null, null, null, null, null, false, OnError.FAIL,
                    RetrievalSource.parse(node));
        }
        String pathText = node.requiredString("path");
        Path path = pathText == null ? Path.of(".") : baseDir.resolve(pathText).normalize();
        String glob = node.string("glob", defaultGlob(type == null ? Type.TEXT : type));
        String textField = node.string("text_field", "text");
        String idField = node.string("id_field", null);
        String textColumn = node.string("text_column", "text");
        boolean header = node.bool("header", true);
        OnError onError = node.enumValue("on_error", OnError.class, OnError.FAIL);
        if (type == Type.CSV || type == Type.TSV) {
            node.require("text_column", header || isIndex(textColumn),
                    "must be a 0-based column index when header is false");
        }
        return new SourceConfig(type, path, glob, textField, idField, textColumn, header, onError);
    }

    static boolean isIndex(String column) {
        return column != null && column.matches("\\d+");
    }

    /** The recipe form: every key the type reads, so parsing it back gives an equal record. */
    public Map<String, Object> toMap() {
        if (retrieval != null) {
            return retrieval.toMap();
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", type.name().toLowerCase(Locale.ROOT));
        m.put("path", path.toString());
        m.put("glob", glob);
        if (type == Type.JSONL) {
            m.put("text_field", textField);
            m.put("id_field", idField);
        }
        if (type == Type.CSV || type == Type.TSV) {
            m.put("text_column", textColumn);
            m.put("header", header);
        }
        m.put("on_error", onError.name().toLowerCase(Locale.ROOT));
        return m;
    }

    public String describe() {
        if (retrieval != null) {
            return retrieval.describe();
        }
        return type.name().toLowerCase(Locale.ROOT) + " " + path;
    }
}
