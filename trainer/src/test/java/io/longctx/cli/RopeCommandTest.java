package io.longctx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.longctx.testing.CliRun;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** `longctx rope --json` reproduces the reference note's figures to four significant digits. */
class RopeCommandTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    @TempDir
    Path tmp;

    /** An HF config of a 7B-class model (head_dim 128) with the given base, context and rope_scaling. */
    private Path config(double theta, int maxPositions, String ropeScaling) throws Exception {
        ObjectNode c = MAPPER.createObjectNode();
        c.put("model_type", "llama");
        c.put("hidden_size", 4096);
        c.put("intermediate_size", 11008);
        c.put("num_hidden_layers", 32);
        c.put("num_attention_heads", 32);
        c.put("vocab_size", 32000);
        c.put("max_position_embeddings", maxPositions);
        c.put("rope_theta", theta);
        c.set("rope_scaling", ropeScaling == null ? null : MAPPER.readTree(ropeScaling));
        Path file = Files.createTempFile(tmp, "config", ".json");
        Files.writeString(file, c.toString());
        return file;
    }

    private static JsonNode rope(Path config, String... extra) throws Exception {
        String[] args = new String[3 + extra.length];
        args[0] = "rope";
        args[1] = config.toString();
        args[2] = "--json";
        System.arraycopy(extra, 0, args, 3, extra.length);
        CliRun run = CliRun.of(args);
        assertEquals(0, run.exitCode(), run.err());
        return MAPPER.readTree(run.out());
    }

    /** The base b' that produced the last inv_freq: inv = b'^(-(d-2)/d). */
    private static double impliedBase(JsonNode result) {
        JsonNode inv = result.get("inv_freq");
        double last = inv.get(inv.size() - 1).asDouble();
        return Math.pow(last, -128.0 / 126.0);
    }

    private static void assertSignificant(double expected, double actual, int digits) {
        double scale = Math.pow(10, Math.floor(Math.log10(Math.abs(expected))) - digits + 1);
        assertEquals(expected, actual, 0.5 * scale, "to " + digits + " significant digits");
    }

    @ParameterizedTest(name = "yarn theta={0} L={1}: {2}..{3}")
    @CsvSource({"10000, 4096, 20, 46", "10000, 8192, 25, 50", "500000, 8192, 18, 35", "1000000, 32768, 23, 40"})
    void yarnRampBounds(double theta, int original, int low, int high) throws Exception {
        JsonNode r = rope(config(theta, original * 16, "{\"rope_type\":\"yarn\",\"factor\":16,"
                + "\"original_max_position_embeddings\":" + original + "}"));
        assertEquals("yarn", r.get("rope_type").asText());
        assertEquals(low, r.get("low").asDouble());
        assertEquals(high, r.get("high").asDouble());
        assertEquals(64, r.get("inv_freq").size());
    }

    @ParameterizedTest(name = "yarn s={0}: attention factor {1}")
    @CsvSource({"2, 1.0693", "4, 1.1386", "8, 1.2079", "16, 1.2773", "32, 1.3466", "64, 1.4159"})
    void yarnMscale(int factor, double expected) throws Exception {
        JsonNode r = rope(config(10000, 4096, "{\"type\":\"yarn\",\"factor\":" + factor + "}"));
        assertSignificant(expected, r.get("attention_factor").asDouble(), 4);
    }

    @ParameterizedTest(name = "ntk s={0}: base {1}")
    @CsvSource({"2, 20221", "4, 40890", "8, 82685", "16, 167199", "32, 338097"})
    void ntkAwareBases(int factor, double expected) throws Exception {
        JsonNode r = rope(config(10000, 4096, "{\"rope_type\":\"ntk\",\"factor\":" + factor + "}"));
        assertSignificant(expected, impliedBase(r), 4);
        assertFalse(r.has("low"), "only yarn reports a ramp");
    }

    @ParameterizedTest(name = "dynamic s=16 at {0}: base {1}")
    @CsvSource({"8192, 177820, 4", "32768, 1220000, 3", "65536, 2630000, 3"})
    void dynamicNtkBases(int seqLen, double expected, int digits) throws Exception {
        JsonNode r = rope(config(10000, 4096, "{\"rope_type\":\"dynamic\",\"factor\":16}"), "--seq-len",
                Integer.toString(seqLen));
        assertSignificant(expected, impliedBase(r), digits);
    }

    @Test
    void table_showsBandsAndRamp() throws Exception {
        CliRun run = CliRun.of("rope", config(10000, 65536, "{\"rope_type\":\"yarn\",\"factor\":16,"
                + "\"original_max_position_embeddings\":4096}").toString());
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("ramp (correction range) low 20.0  high 46.0"), run.out());
        assertTrue(run.out().lines().anyMatch(l -> l.trim().startsWith("0 ") && l.endsWith("extrapolated")));
        assertTrue(run.out().lines().anyMatch(l -> l.trim().startsWith("30 ") && l.endsWith("ramp")));
        assertTrue(run.out().lines().anyMatch(l -> l.trim().startsWith("63 ") && l.endsWith("interpolated")));
    }

    @Test
    void v5RopeParameters_areRead() throws Exception {
        Path file = config(10000, 4096, null);
        ObjectNode c = (ObjectNode) MAPPER.readTree(file.toFile());
        c.remove("rope_theta");
        c.remove("rope_scaling");
        c.set("rope_parameters", MAPPER.readTree("{\"rope_type\":\"linear\",\"factor\":4,\"rope_theta\":500000}"));
        Files.writeString(file, c.toString());
        JsonNode r = rope(file);
        assertEquals("linear", r.get("rope_type").asText());
        assertEquals(500000.0, r.get("rope_theta").asDouble());
        assertEquals(0.25, r.get("inv_freq").get(0).asDouble(), 1e-9);
    }
}
