package io.longctx.data.source;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.LongctxException;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVRecord;

/**
 * Reads the documents of a source in a deterministic order (files sorted by path, then file order), replacing
 * invalid UTF-8, skipping empty documents, and failing or skipping malformed lines and records per the source's
 * on_error policy. Files ending in .gz are decompressed.
 */
public final class DocumentReader {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final SourceConfig config;
    private final SourceStats stats;

    public DocumentReader(SourceConfig config, SourceStats stats) {
        this.config = config;
        this.stats = stats;
    }

    /** The files of the source, sorted; fails when there are none. */
    public List<Path> files() {
        Path root = config.path();
        if (Files.isRegularFile(root)) {
            return List.of(root);
        }
        if (!Files.isDirectory(root)) {
            throw new LongctxException(root + ": source path not found");
        }
        PathMatcher matcher = FileSystems.getDefault().getPathMatcher("glob:" + config.glob());
        List<Path> files = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(root)) {
            walk.filter(Files::isRegularFile)
                    .filter(p -> !p.getFileName().toString().startsWith("."))
                    .filter(p -> matcher.matches(root.relativize(p)) || matcher.matches(p.getFileName()))
                    .sorted()
                    .forEach(files::add);
        } catch (IOException | UncheckedIOException e) {
            throw new LongctxException(root + ": cannot list (" + e.getMessage() + ")");
        }
        if (files.isEmpty()) {
            throw new LongctxException(root + ": no files match '" + config.glob() + "' for " + config.describe());
        }
        return files;
    }

    /** Reads every document of every file in order. */
    public void read(Consumer<Document> sink) {
        for (Path file : files()) {
            stats.file();
            switch (config.type()) {
                case TEXT -> readText(file, sink);
                case JSONL -> readJsonLines(file, sink);
                case CSV, TSV -> readDelimited(file, sink);
                default -> throw new IllegalStateException();
            }
        }
    }

    private static InputStream open(Path file) throws IOException {
        InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
        return file.getFileName().toString().endsWith(".gz") ? new GZIPInputStream(in, 1 << 16) : in;
    }

    private static byte[] readAll(Path file) {
        try (InputStream in = open(file)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new LongctxException(file + ": cannot read (" + e.getMessage() + ")");
        }
    }

    private void emit(String id, Utf8.Decoded decoded, long bytes, Consumer<Document> sink) {
        stats.invalidUtf8(decoded.replaced());
        if (decoded.text().isBlank()) {
            stats.empty();
            return;
        }
        stats.document(bytes);
        sink.accept(new Document(id, decoded.text()));
    }

    /**
     * A document's default id: its file relative to the source path, so the validation split does not change
     * when the corpus is moved or copied.
     */
    private String idOf(Path file) {
        Path root = config.path();
        String relative = Files.isRegularFile(root) ? file.getFileName().toString() : root.relativize(file).toString();
        return relative.replace('\\', '/');
    }

    private void readText(Path file, Consumer<Document> sink) {
        byte[] bytes = readAll(file);
        emit(idOf(file), Utf8.decode(bytes, 0, bytes.length), bytes.length, sink);
    }

    private void readJsonLines(Path file, Consumer<Document> sink) {
        try (InputStream in = open(file)) {
            byte[] chunk = new byte[1 << 16];
            ByteArrayOutputStream line = new ByteArrayOutputStream(1 << 16);
            int lineNumber = 0;
            int n;
            while ((n = in.read(chunk)) > 0) {
                int from = 0;
                for (int i = 0; i < n; i++) {
                    if (chunk[i] == '\n') {
                        line.write(chunk, from, i - from);
                        jsonLine(file, ++lineNumber, line.toByteArray(), sink);
                        line.reset();
                        from = i + 1;
                    }
                }
                line.write(chunk, from, n - from);
            }
            if (line.size() > 0) {
                jsonLine(file, ++lineNumber, line.toByteArray(), sink);
            }
        } catch (IOException e) {
            throw new LongctxException(file + ": cannot read (" + e.getMessage() + ")");
        }
    }

    private void jsonLine(Path file, int lineNumber, byte[] bytes, Consumer<Document> sink) {
        Utf8.Decoded decoded = Utf8.decode(bytes, 0, bytes.length);
        if (decoded.text().isBlank()) {
            return;
        }
        String where = file + ":" + lineNumber;
        JsonNode node;
        try {
            node = JSON.readTree(decoded.text());
        } catch (JsonProcessingException e) {
            malformed(where, "not valid JSON (" + e.getOriginalMessage() + ")");
            return;
        }
        if (node == null || !node.isObject()) {
            malformed(where, "not a JSON object");
            return;
        }
        JsonNode text = node.get(config.textField());
        if (text == null || !text.isTextual()) {
            malformed(where, "field '" + config.textField() + "' is " + (text == null ? "missing" : "not a string"));
            return;
        }
        String id = idOf(file) + ":" + lineNumber;
        if (config.idField() != null) {
            JsonNode idNode = node.get(config.idField());
            if (idNode == null || idNode.isNull() || idNode.isContainerNode()) {
                malformed(where, "id field '" + config.idField() + "' is missing or not a value");
                return;
            }
            id = idNode.asText();
        }
        emit(id, new Utf8.Decoded(text.textValue(), decoded.replaced()), bytes.length, sink);
    }

    private void readDelimited(Path file, Consumer<Document> sink) {
        byte[] bytes = readAll(file);
        Utf8.Decoded decoded = Utf8.decode(bytes, 0, bytes.length);
        stats.invalidUtf8(decoded.replaced());
        CSVFormat.Builder builder = (config.type() == SourceConfig.Type.TSV ? CSVFormat.TDF : CSVFormat.DEFAULT)
                .builder();
        if (config.header()) {
            builder.setHeader().setSkipHeaderRecord(true);
        }
        try (CSVParser parser = CSVParser.builder().setReader(new StringReader(decoded.text()))
                .setFormat(builder.get()).get()) {
            boolean named = config.header() && parser.getHeaderMap().containsKey(config.textColumn());
            boolean useIndex = !named && SourceConfig.isIndex(config.textColumn());
            if (!named && !useIndex) {
                throw new LongctxException(file + ":1: no column '" + config.textColumn() + "' in the header "
                        + parser.getHeaderNames());
            }
            int index = useIndex ? Integer.parseInt(config.textColumn()) : -1;
            var iterator = parser.iterator();
            while (true) {
                CSVRecord record;
                long line = parser.getCurrentLineNumber() + 1;
                try {
                    if (!iterator.hasNext()) {
                        break;
                    }
                    record = iterator.next();
                } catch (UncheckedIOException | IllegalStateException e) {
                    // a broken quote ends the parse: nothing after it can be read reliably
                    String reason = e.getCause() != null ? e.getCause().getMessage() : e.getMessage();
                    throw new LongctxException(file + ":" + line + ": malformed record (" + reason + ")");
                }
                String id = idOf(file) + ":" + record.getRecordNumber();
                String text;
                if (useIndex) {
                    if (index >= record.size()) {
                        malformed(file + ":" + line, "record has " + record.size() + " columns, text_column is "
                                + index);
                        continue;
                    }
                    text = record.get(index);
                } else if (!record.isMapped(config.textColumn()) || !record.isSet(config.textColumn())) {
                    malformed(file + ":" + line, "record has no value for column '" + config.textColumn() + "'");
                    continue;
                } else {
                    text = record.get(config.textColumn());
                }
                emit(id, new Utf8.Decoded(text, 0), text.length(), sink);
            }
        } catch (IOException e) {
            throw new LongctxException(file + ": cannot read (" + e.getMessage() + ")");
        }
    }

    private void malformed(String where, String reason) {
        if (config.onError() == SourceConfig.OnError.SKIP) {
            stats.malformed();
            return;
        }
        throw new LongctxException(where + ": " + reason + " (set on_error: skip to skip such lines)");
    }
}
