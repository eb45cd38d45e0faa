package io.longctx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.longctx.model.ModelConfig;
import io.longctx.safetensors.DType;
import io.longctx.safetensors.SafetensorsWriter;
import io.longctx.testing.CliRun;
import io.longctx.testing.TinyModels;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every kind of bad model input ends in one line naming the file or tensor and exit code 2: no stack trace, no JVM
 * crash. Runs the real CLI in-process on a small generated model that each test damages in one way.
 */
class BadInputTest {
    @TempDir
    Path tmp;

    private Path model;
    private Path ids;

    @BeforeEach
    void writeModel() throws IOException {
        model = TinyModels.write(tmp.resolve("model"), TinyModels.llamaConfig(), 3);
        ids = tmp.resolve("prompt.ids");
        Files.writeString(ids, "1 5 9 13 4\n");
    }

    private CliRun score() {
        return CliRun.of("score", "--model", model.toString(), "--ids", ids.toString(), "--json");
    }

    private static void assertCleanFailure(CliRun run, String... mustContain) {
        assertEquals(2, run.exitCode(), "exit code; stderr was: " + run.err());
        String line = run.errorLine();
        for (String fragment : mustContain) {
            assertTrue(line.contains(fragment), "error line should mention '" + fragment + "': " + line);
        }
        assertFalse(run.err().contains("\tat "), "no stack trace: " + run.err());
        assertEquals(1, run.err().lines().filter(l -> l.startsWith("error:")).count(), run.err());
    }

    /** Replaces model.safetensors with a file made of this header text and this many data bytes. */
    private void writeRawSafetensors(String header, long declaredLength, int dataBytes) throws IOException {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buffer = ByteBuffer.allocate(8 + json.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        buffer.putLong(declaredLength).put(json);
        Files.write(model.resolve("model.safetensors"), buffer.array());
    }

    private void rewriteWeights(Map<String, float[]> weights, Map<String, long[]> shapes) {
        SafetensorsWriter writer = new SafetensorsWriter(DType.F32);
        shapes.forEach((name, shape) -> writer.add(name, weights.get(name), shape));
        writer.write(model.resolve("model.safetensors"));
    }

    @Test
    void missingModelDirectory() {
        model = tmp.resolve("nowhere");
        assertCleanFailure(score(), "nowhere", "not found");
    }

    @Test
    void missingConfig() throws IOException {
        Files.delete(model.resolve("config.json"));
        assertCleanFailure(score(), "config.json", "not found");
    }

    @Test
    void malformedConfig() throws IOException {
        Files.writeString(model.resolve("config.json"), "{\"model_type\": \"llama\", ");
        assertCleanFailure(score(), "config.json", "not valid JSON");
    }

    @Test
    void unknownModelType() throws IOException {
        ObjectNode config = TinyModels.llamaConfig().put("model_type", "gpt2");
        Files.writeString(model.resolve("config.json"), config.toString());
        assertCleanFailure(score(), "config.json", "unsupported model_type 'gpt2'");
    }

    @Test
    void missingIdsFile() {
        ids = tmp.resolve("absent.ids");
        assertCleanFailure(score(), "absent.ids", "not found");
    }

    @Test
    void tensorMissing() {
        ModelConfig config = ModelConfig.parse(TinyModels.llamaConfig(), "t");
        Map<String, long[]> shapes = config.expectedTensors();
        Map<String, float[]> weights = TinyModels.randomWeights(config, 1);
        shapes.remove("model.layers.1.mlp.up_proj.weight");
        rewriteWeights(weights, shapes);
        assertCleanFailure(score(), "model.layers.1.mlp.up_proj.weight", "missing");
    }

    @Test
    void tensorOfWrongShape() {
        ModelConfig config = ModelConfig.parse(TinyModels.llamaConfig(), "t");
        Map<String, long[]> shapes = config.expectedTensors();
        Map<String, float[]> weights = TinyModels.randomWeights(config, 1);
        shapes.put("model.layers.0.self_attn.k_proj.weight", new long[] {32, 16});
        weights.put("model.layers.0.self_attn.k_proj.weight", new float[32 * 16]);
        rewriteWeights(weights, shapes);
        assertCleanFailure(score(), "model.safetensors", "model.layers.0.self_attn.k_proj.weight", "[32, 16]",
                "[16, 32]");
    }

    @Test
    void truncatedFile() throws IOException {
        Path file = model.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        assertCleanFailure(score(), "model.safetensors", "truncated");
    }

    @Test
    void fileShorterThanLengthPrefix() throws IOException {
        Files.write(model.resolve("model.safetensors"), new byte[] {1, 2, 3});
        assertCleanFailure(score(), "model.safetensors", "truncated");
    }

    @Test
    void headerLengthBeyondFile() throws IOException {
        writeRawSafetensors("{}", 5000, 0);
        assertCleanFailure(score(), "model.safetensors", "header length 5000 runs beyond the end of the file");
    }

    @Test
    void hostileHeaderLength() throws IOException {
        writeRawSafetensors("{}", -1L, 0);
        assertCleanFailure(score(), "model.safetensors", "not plausible");
    }

    @Test
    void headerNotJson() throws IOException {
        String header = "{\"a\": [1, 2";
        writeRawSafetensors(header, header.length(), 0);
        assertCleanFailure(score(), "model.safetensors", "not valid JSON");
    }

    @Test
    void overlappingOffsets() throws IOException {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}";
        writeRawSafetensors(header, header.length(), 24);
        assertCleanFailure(score(), "model.safetensors", "'b'", "contiguous");
    }

    @Test
    void headerLengthOneByteShort_isRefusedNotShifted() throws IOException {
        Path file = model.resolve("model.safetensors");
        ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        long length = bytes.getLong(0);
        // the header ends in padding spaces, so one byte less still parses: the tensors would shift by a byte
        bytes.putLong(0, length - 1);
        Files.write(file, bytes.array());
        assertCleanFailure(score(), "model.safetensors", "data section");
    }

    @Test
    void gapBetweenTensors() throws IOException {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[20,36]}}";
        writeRawSafetensors(header, header.length(), 36);
        assertCleanFailure(score(), "model.safetensors", "'b'", "starts at byte 20", "expected 16");
    }

    @Test
    void bytesAfterTheLastTensor() throws IOException {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}";
        writeRawSafetensors(header, header.length(), 20);
        assertCleanFailure(score(), "model.safetensors", "end at byte 16", "holds 20 bytes");
    }

    @Test
    void duplicateTensorNames() throws IOException {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,32]}}";
        writeRawSafetensors(header, header.length(), 32);
        assertCleanFailure(score(), "model.safetensors", "Duplicate field 'a'");
    }

    @Test
    void nanInAWeight_isRefusedNamingTheTensor() {
        ModelConfig config = ModelConfig.parse(TinyModels.llamaConfig(), "t");
        Map<String, float[]> weights = TinyModels.randomWeights(config, 1);
        weights.get("model.layers.1.mlp.down_proj.weight")[7] = Float.NaN;
        weights.get("model.layers.1.mlp.down_proj.weight")[9] = Float.POSITIVE_INFINITY;
        rewriteWeights(weights, config.expectedTensors());
        assertCleanFailure(score(), "model.layers.1.mlp.down_proj.weight", "2 NaN or infinite", "element 7");
    }

    @Test
    void offsetsOutOfRange() throws IOException {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,32]}}";
        writeRawSafetensors(header, header.length(), 20);
        assertCleanFailure(score(), "model.safetensors", "'b'", "beyond the data section");
    }

    @Test
    void offsetsDisagreeWithShape() throws IOException {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,12]}}";
        writeRawSafetensors(header, header.length(), 12);
        assertCleanFailure(score(), "model.safetensors", "'a'", "needs 16");
    }

    @Test
    void unsupportedDtype() throws IOException {
        ModelConfig config = ModelConfig.parse(TinyModels.llamaConfig(), "t");
        StringBuilder header = new StringBuilder("{");
        long offset = 0;
        for (Map.Entry<String, long[]> e : config.expectedTensors().entrySet()) {
            long n = 1;
            for (long d : e.getValue()) {
                n *= d;
            }
            boolean intTensor = e.getKey().equals("model.norm.weight");
            long bytes = n * (intTensor ? 8 : 4);
            header.append(header.length() > 1 ? "," : "").append('"').append(e.getKey()).append("\":{\"dtype\":\"")
                    .append(intTensor ? "I64" : "F32").append("\",\"shape\":")
                    .append(java.util.Arrays.toString(e.getValue()).replace(" ", ""))
                    .append(",\"data_offsets\":[").append(offset).append(',').append(offset + bytes).append("]}");
            offset += bytes;
        }
        header.append('}');
        writeRawSafetensors(header.toString(), header.length(), (int) offset);
        assertCleanFailure(score(), "model.safetensors", "model.norm.weight", "unsupported dtype I64");
    }

    @Test
    void pickleCheckpointRefused() throws IOException {
        Files.delete(model.resolve("model.safetensors"));
        Files.write(model.resolve("pytorch_model.bin"), new byte[] {(byte) 0x80, 2, 'c', 'o', 's'});
        assertCleanFailure(score(), "pytorch_model.bin", "refused", "safetensors");
    }

    @Test
    void shardListedInIndexButAbsent() throws IOException {
        Files.delete(model.resolve("model.safetensors"));
        Files.writeString(model.resolve("model.safetensors.index.json"),
                "{\"weight_map\": {\"model.embed_tokens.weight\": \"model-00001-of-00002.safetensors\"}}");
        assertCleanFailure(score(), "model-00001-of-00002.safetensors", "not found");
    }

    @Test
    void tokenIdOutsideVocabulary() throws IOException {
        Files.writeString(ids, "1 5 900\n");
        assertCleanFailure(score(), "900", "outside the vocabulary");
    }

    @Test
    void textInputWithoutTokenizer() throws IOException {
        Path text = tmp.resolve("doc.txt");
        Files.writeString(text, "hello");
        CliRun run = CliRun.of("score", "--model", model.toString(), "--text", text.toString());
        assertCleanFailure(run, "tokenizer.json");
    }

    @Test
    void badRopeScalingOverride() {
        CliRun run = CliRun.of("score", "--model", model.toString(), "--ids", ids.toString(), "--rope-scaling",
                "{\"rope_type\":\"yarn\",\"factor\":-2}");
        assertCleanFailure(run, "--rope-scaling: factor");
    }
}
