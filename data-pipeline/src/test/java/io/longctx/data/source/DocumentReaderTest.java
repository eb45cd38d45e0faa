package io.longctx.data.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longctx.LongctxException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DocumentReaderTest {
    @TempDir
    Path tmp;

    private static List<Document> read(SourceConfig config, SourceStats stats) {
        List<Document> docs = new ArrayList<>();
        new DocumentReader(config, stats).read(docs::add);
        return docs;
    }

    private static SourceConfig config(SourceConfig.Type type, Path path, String glob, String textColumn,
            boolean header, SourceConfig.OnError onError) {
        return new SourceConfig(type, path, glob, "text", "id", textColumn, header, onError);
    }

    private Path write(String name, String content) throws IOException {
        Path file = tmp.resolve(name);
        Files.createDirectories(file.getParent());
        Files.writeString(file, content);
        return file;
    }

    private Path writeGzip(String name, String content) throws IOException {
        Path file = tmp.resolve(name);
        Files.createDirectories(file.getParent());
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(file))) {
            out.write(content.getBytes(StandardCharsets.UTF_8));
        }
        return file;
    }

    @Test
    void textDirectory_recursiveSortedAndGlobFiltered() throws IOException {
        write("books/b/two.txt", "second");
        write("books/a/one.txt", "first");
        write("books/a/skip.md", "not matched");
        writeGzip("books/c/three.txt.gz", "third, compressed");
        SourceStats stats = new SourceStats();
        List<Document> docs = read(config(SourceConfig.Type.TEXT, tmp.resolve("books"), "**.{txt,txt.gz}", null,
                true, SourceConfig.OnError.FAIL), stats);
        assertEquals(List.of("first", "second", "third, compressed"), docs.stream().map(Document::text).toList());
        assertEquals(3, stats.files());
    }

    @Test
    void jsonLines_textAndIdFields_gzip() throws IOException {
        writeGzip("d/docs.jsonl.gz", "{\"id\": 7, \"text\": \"alpha\"}\n\n{\"id\": \"x\", \"text\": \"beta\"}\n");
        List<Document> docs = read(SourceConfig.jsonl(tmp.resolve("d"), "text", "id", SourceConfig.OnError.FAIL),
                new SourceStats());
        assertEquals(2, docs.size());
        assertEquals(new Document("7", "alpha"), docs.get(0));
        assertEquals(new Document("x", "beta"), docs.get(1));
    }

    @Test
    void jsonLines_malformedLineFailsWithFileAndLine() throws IOException {
        Path file = write("bad.jsonl", "{\"text\": \"ok\"}\n{\"text\": oops}\n");
        LongctxException e = assertThrows(LongctxException.class, () -> read(SourceConfig.jsonl(file, "text", null,
                SourceConfig.OnError.FAIL), new SourceStats()));
        assertTrue(e.getMessage().startsWith(file + ":2: not valid JSON"), e.getMessage());
        assertTrue(e.getMessage().contains("on_error: skip"), e.getMessage());
    }

    @Test
    void jsonLines_skipPolicyCountsMalformedAndMissingFields() throws IOException {
        Path file = write("mixed.jsonl", "{\"text\": \"ok\"}\n{broken\n{\"body\": \"no text\"}\n[1,2]\n"
                + "{\"text\": 5}\n{\"text\": \"fine\"}\n");
        SourceStats stats = new SourceStats();
        List<Document> docs = read(SourceConfig.jsonl(file, "text", null, SourceConfig.OnError.SKIP), stats);
        assertEquals(List.of("ok", "fine"), docs.stream().map(Document::text).toList());
        assertEquals(4, stats.malformedSkipped());
    }

    @Test
    void emptyDocumentsAreSkippedAndCounted() throws IOException {
        write("e/a.txt", "");
        write("e/b.txt", "  \n\t ");
        write("e/c.txt", "content");
        SourceStats stats = new SourceStats();
        List<Document> docs = read(SourceConfig.text(tmp.resolve("e")), stats);
        assertEquals(1, docs.size());
        assertEquals(2, stats.emptySkipped());
        assertEquals(1, stats.documentsRead());
    }

    @Test
    void invalidUtf8IsReplacedAndCounted() throws IOException {
        Path file = tmp.resolve("bin.txt");
        byte[] bytes = {'a', (byte) 0xff, 'b', (byte) 0xc3, 'c', (byte) 0xe2, (byte) 0x82};
        Files.write(file, bytes);
        SourceStats stats = new SourceStats();
        List<Document> docs = read(SourceConfig.text(file), stats);
        assertEquals("a\uFFFDb\uFFFDc\uFFFD", docs.get(0).text());
        assertEquals(3, stats.invalidUtf8Sequences());
    }

    @Test
    void csv_byHeaderName_withQuotedNewlines() throws IOException {
        write("c/data.csv", "id,text\n1,\"line one\nline two\"\n2,plain\n");
        List<Document> docs = read(config(SourceConfig.Type.CSV, tmp.resolve("c"), SourceConfig.defaultGlob(
                SourceConfig.Type.CSV), "text", true, SourceConfig.OnError.FAIL), new SourceStats());
        assertEquals(List.of("line one\nline two", "plain"), docs.stream().map(Document::text).toList());
    }

    @Test
    void tsv_byIndexWithoutHeader_gzip() throws IOException {
        writeGzip("t/data.tsv.gz", "a\tfirst text\nb\tsecond text\n");
        List<Document> docs = read(config(SourceConfig.Type.TSV, tmp.resolve("t"), SourceConfig.defaultGlob(
                SourceConfig.Type.TSV), "1", false, SourceConfig.OnError.FAIL), new SourceStats());
        assertEquals(List.of("first text", "second text"), docs.stream().map(Document::text).toList());
    }

    @Test
    void csv_shortRecordFailsOrIsSkipped() throws IOException {
        Path file = write("short.csv", "text,extra\nfine,1\n");
        Files.writeString(file, "id,text\n1,ok\n2\n3,also ok\n");
        LongctxException e = assertThrows(LongctxException.class, () -> read(config(SourceConfig.Type.CSV, file,
                "**", "text", true, SourceConfig.OnError.FAIL), new SourceStats()));
        assertTrue(e.getMessage().startsWith(file + ":3:"), e.getMessage());
        SourceStats stats = new SourceStats();
        List<Document> docs = read(config(SourceConfig.Type.CSV, file, "**", "text", true,
                SourceConfig.OnError.SKIP), stats);
        assertEquals(2, docs.size());
        assertEquals(1, stats.malformedSkipped());
    }

    @Test
    void csv_unterminatedQuoteFailsWithLine() throws IOException {
        Path file = write("quote.csv", "text\nok\n\"never closed\n");
        LongctxException e = assertThrows(LongctxException.class, () -> read(config(SourceConfig.Type.CSV, file,
                "**", "text", true, SourceConfig.OnError.SKIP), new SourceStats()));
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("malformed record"),
                e.getMessage());
    }

    @Test
    void csv_unknownColumnFails() throws IOException {
        Path file = write("cols.csv", "a,b\n1,2\n");
        LongctxException e = assertThrows(LongctxException.class, () -> read(config(SourceConfig.Type.CSV, file,
                "**", "text", true, SourceConfig.OnError.FAIL), new SourceStats()));
        assertTrue(e.getMessage().contains("no column 'text'"), e.getMessage());
    }

    @Test
    void missingPathFails() {
        LongctxException e = assertThrows(LongctxException.class, () -> read(SourceConfig.text(tmp.resolve("nope")),
                new SourceStats()));
        assertTrue(e.getMessage().contains("nope") && e.getMessage().contains("not found"), e.getMessage());
    }
}
