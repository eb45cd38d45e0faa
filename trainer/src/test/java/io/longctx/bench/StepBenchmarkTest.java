package io.longctx.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StepBenchmarkTest {
    @TempDir
    Path dir;

    @Test
    void profiledStepShowsWhereTheTimeGoes() {
        Path trace = dir.resolve("traces/step.json");
        Map<String, Object> r = StepBenchmark.run("tiny", 64, 1, "sdpa", 1, 2, Device.cpu(), trace);
        assertTrue(Files.isRegularFile(trace), "Chrome trace written");
        assertEquals(r.get("handles_before"), r.get("handles_after"), "no NDArray handles leak across steps");
        @SuppressWarnings("unchecked")
        Map<String, Object> profile = (Map<String, Object>) r.get("profile");
        @SuppressWarnings("unchecked")
        Map<String, Double> categories = (Map<String, Double>) profile.get("self_s_by_category");
        assertTrue(categories.get("matmul") > 0, "matrix multiplies found: " + categories);
        assertTrue(categories.get("attention") > 0, "fused attention found: " + categories);
        double booked = categories.values().stream().mapToDouble(Double::doubleValue).sum();
        double wall = (Double) profile.get("wall_s");
        assertTrue(booked <= wall * 1.01, "self times " + booked + " s fit in the step's " + wall + " s");
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> top = (List<Map<String, Object>>) profile.get("top_ops");
        assertTrue(top.stream().anyMatch(op -> op.get("op").equals("aten::mm")), "aten::mm among the top: " + top);
        assertTrue(List.of("glibc", "tcmalloc", "jemalloc").contains(r.get("allocator")));
    }
}
