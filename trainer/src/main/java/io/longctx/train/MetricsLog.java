package io.longctx.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.LongctxException;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVPrinter;
import org.apache.commons.csv.CSVRecord;

/**
 * Metrics of a run as CSV (for spreadsheets and plots) and JSON Lines (for programs), one row per step. On resume,
 * rows past the checkpoint's step are dropped first, so the files read as one uninterrupted run.
 */
public final class MetricsLog {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path csv;
    private final Path jsonl;
    private final List<String> columns;

    public MetricsLog(Path runDir, String name, List<String> columns, int resumeStep) {
        this.csv = runDir.resolve(name + ".csv");
        this.jsonl = runDir.resolve(name + ".jsonl");
        this.columns = List.copyOf(columns);
        try {
            Files.createDirectories(runDir);
            truncate(resumeStep);
            if (!Files.exists(csv)) {
                try (CSVPrinter printer = new CSVPrinter(Files.newBufferedWriter(csv, StandardCharsets.UTF_8),
                        CSVFormat.DEFAULT)) {
                    printer.printRecord(columns);
                }
            }
        } catch (IOException e) {
            throw new LongctxException(csv + ": cannot write metrics (" + e.getMessage() + ")");
        }
    }

    private void truncate(int resumeStep) throws IOException {
        if (Files.exists(csv)) {
            List<List<String>> keep = new ArrayList<>();
            try (Reader reader = Files.newBufferedReader(csv, StandardCharsets.UTF_8);
                    CSVParser parser = CSVParser.builder().setReader(reader).setFormat(
                            CSVFormat.DEFAULT.builder().setHeader().setSkipHeaderRecord(true).get()).get()) {
                for (CSVRecord record : parser) {
                    if (stepOf(record.get(0)) <= resumeStep) {
                        keep.add(record.toList());
                    }
                }
            }
            try (CSVPrinter printer = new CSVPrinter(Files.newBufferedWriter(csv, StandardCharsets.UTF_8),
                    CSVFormat.DEFAULT)) {
                printer.printRecord(columns);
                printer.printRecords(keep);
            }
        }
        if (Files.exists(jsonl)) {
            List<String> keep = new ArrayList<>();
            for (String line : Files.readAllLines(jsonl, StandardCharsets.UTF_8)) {
                if (!line.isBlank() && JSON.readTree(line).path("step").asInt() <= resumeStep) {
                    keep.add(line);
                }
            }
            Files.write(jsonl, keep, StandardCharsets.UTF_8);
        }
    }

    private static int stepOf(String text) {
        try {
            return Integer.parseInt(text.trim());
        } catch (NumberFormatException e) {
            return Integer.MAX_VALUE;
        }
    }

    /** Appends one row; values are keyed by column name. */
    public void append(Map<String, Object> row) {
        try (BufferedWriter out = Files.newBufferedWriter(csv, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
                CSVPrinter printer = new CSVPrinter(out, CSVFormat.DEFAULT)) {
            List<Object> values = new ArrayList<>();
            for (String column : columns) {
                values.add(row.get(column));
            }
            printer.printRecord(values);
        } catch (IOException e) {
            throw new LongctxException(csv + ": cannot write metrics (" + e.getMessage() + ")");
        }
        try {
            Files.writeString(jsonl, JSON.writeValueAsString(row) + "\n", StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new LongctxException(jsonl + ": cannot write metrics (" + e.getMessage() + ")");
        }
    }

    /** Every row written so far (this run's and, after a resume, the earlier sessions' kept rows), in order. */
    public List<Map<String, Object>> rows() {
        List<Map<String, Object>> rows = new ArrayList<>();
        if (!Files.exists(jsonl)) {
            return rows;
        }
        try {
            for (String line : Files.readAllLines(jsonl, StandardCharsets.UTF_8)) {
                if (!line.isBlank()) {
                    rows.add(JSON.readValue(line, new com.fasterxml.jackson.core.type.TypeReference<
                            java.util.LinkedHashMap<String, Object>>() { }));
                }
            }
        } catch (IOException e) {
            throw new LongctxException(jsonl + ": unreadable (" + e.getMessage() + ")");
        }
        return rows;
    }
}
