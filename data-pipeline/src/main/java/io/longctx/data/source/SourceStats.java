package io.longctx.data.source;

import java.util.LinkedHashMap;
import java.util.Map;

/** Counts kept while reading sources; thread-confined to the reader. */
public final class SourceStats {
    private long files;
    private long documentsRead;
    private long emptySkipped;
    private long malformedSkipped;
    private long invalidUtf8Documents;
    private long invalidUtf8Sequences;
    private long bytes;
    private long generatedTokens;

    void file() {
        files++;
    }

    /** One generated document (a retrieval source's): counted like a read one, with its tokens. */
    public void generated(long textBytes, long tokens) {
        document(textBytes);
        generatedTokens += tokens;
    }

    void document(long textBytes) {
        documentsRead++;
        bytes += textBytes;
    }

    void empty() {
        emptySkipped++;
    }

    void malformed() {
        malformedSkipped++;
    }

    void invalidUtf8(long sequences) {
        if (sequences > 0) {
            invalidUtf8Documents++;
            invalidUtf8Sequences += sequences;
        }
    }

    public long files() {
        return files;
    }

    public long documentsRead() {
        return documentsRead;
    }

    public long emptySkipped() {
        return emptySkipped;
    }

    public long malformedSkipped() {
        return malformedSkipped;
    }

    public long invalidUtf8Sequences() {
        return invalidUtf8Sequences;
    }

    public long invalidUtf8Documents() {
        return invalidUtf8Documents;
    }

    /** Adds another source's counts to these (for the totals over all sources). */
    public void add(SourceStats other) {
        files += other.files;
        documentsRead += other.documentsRead;
        emptySkipped += other.emptySkipped;
        malformedSkipped += other.malformedSkipped;
        invalidUtf8Documents += other.invalidUtf8Documents;
        invalidUtf8Sequences += other.invalidUtf8Sequences;
        bytes += other.bytes;
        generatedTokens += other.generatedTokens;
    }

    /** One line for the pack summary: what was read and what was skipped or repaired. */
    public String summary() {
        if (generatedTokens > 0) {
            return String.format(java.util.Locale.ROOT, "%,d document(s) generated, %,d tokens", documentsRead,
                    generatedTokens);
        }
        return String.format(java.util.Locale.ROOT, "%,d document(s) from %,d file(s); %,d empty (skipped); %,d with "
                + "invalid UTF-8 (%,d byte sequence(s) replaced); %,d malformed (skipped)", documentsRead, files,
                emptySkipped, invalidUtf8Documents, invalidUtf8Sequences, malformedSkipped);
    }

    public Map<String, Object> toMap() {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("files", files);
        map.put("documents_read", documentsRead);
        map.put("skipped_empty", emptySkipped);
        map.put("skipped_malformed", malformedSkipped);
        map.put("documents_with_invalid_utf8", invalidUtf8Documents);
        map.put("invalid_utf8_sequences_replaced", invalidUtf8Sequences);
        map.put("text_bytes", bytes);
        map.put("tokens_generated", generatedTokens);
        return map;
    }
}
