package io.longctx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.testing.CliRun;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The harness end to end on the tiny model: one child process per configuration, profiles and their chart. */
class BenchCommandTest {
    @TempDir
    Path dir;

    @Test
    void profiledBench_writesTracesAChartAndPerConfigurationResults() throws Exception {
        Path profiles = dir.resolve("profiles");
        CliRun run = CliRun.of("bench", "--config", "tiny", "--lengths", "64", "--steps", "1", "--warmup", "1",
                "--skip-attention", "--profile", profiles.toString(), "--json");
        assertEquals(0, run.exitCode(), run.err());
        JsonNode result = new ObjectMapper().readTree(run.out());
        assertEquals(2, result.path("steps").size(), "checkpointing off and on");
        for (JsonNode step : result.path("steps")) {
            assertTrue(step.path("step_s").asDouble() > 0, step.toString());
            assertTrue(step.path("peak_rss_mib").asLong() > 0, step.toString());
            assertEquals(step.path("handles_before").asInt(), step.path("handles_after").asInt(), step.toString());
            assertTrue(step.path("profile").path("self_s_by_category").path("matmul").asDouble() > 0,
                    step.toString());
            assertTrue(Files.isRegularFile(Path.of(step.path("profile").path("trace").asText())), step.toString());
        }
        BufferedImage chart = ImageIO.read(profiles.resolve("profile.png").toFile());
        assertEquals(900, chart.getWidth());
    }

    @Test
    void unknownCheckpointingSetting_isAnInputError() {
        CliRun run = CliRun.of("bench", "--config", "tiny", "--lengths", "64", "--checkpointing", "maybe",
                "--skip-attention");
        assertEquals(2, run.exitCode(), run.err());
        assertTrue(run.errorLine().contains("--checkpointing"), run.err());
    }
}
