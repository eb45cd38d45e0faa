package io.longctx.distributed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProcessGroupTest {
    @TempDir
    Path dir;

    @Test
    void collectivesOverLoopback_giveTheSumsMaximaShardsAndBroadcastOfTwoRanks() throws Exception {
        Ranks.assumeShim();
        List<Process> ranks = Ranks.start(2, Ranks.freePort(), dir, Map.of(),
                Ranks.java(CollectivesProbe.class.getName(), dir.toString()));
        int[] codes = Ranks.waitAll(ranks, 120);
        assertArrayEquals(new int[] {0, 0}, codes, () -> log(0) + log(1));
        String expected0 = """
                [3.0, 30.0, 200.0][1.0, 1.0, 2.0, 4.0]
                [1.0, 0.0]
                [3.0, 5.0]
                [1.0, 2.0, 11.0]
                [1.0, 2.0, 11.0]
                [1.0, 7.0]
                true [1.0, 3.0]
                """;
        assertEquals(expected0, Files.readString(dir.resolve("probe-0.txt")));
        // rank 1 gets the same reductions and the second shard: (3 + 4, 0 + 0); it gathered into no targets once
        assertEquals(expected0.replace("[3.0, 5.0]", "[7.0, 0.0]").replace("[1.0, 2.0, 11.0]\n[1.0, 2.0, 11.0]",
                "[1.0, 2.0, 11.0]\n[0.0, 0.0, 0.0]"), Files.readString(dir.resolve("probe-1.txt")));
    }

    @Test
    void portInUse_isOneClearLine() throws Exception {
        Ranks.assumeShim();
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0)) {
            List<Process> ranks = Ranks.start(1, taken.getLocalPort(), dir, Map.of("WORLD_SIZE", "2"),
                    Ranks.java(CollectivesProbe.class.getName(), dir.toString()));
            int[] codes = Ranks.waitAll(ranks, 120);
            assertTrue(codes[0] != 0);
            assertTrue(log(0).contains("is in use"), log(0));
        }
    }

    private String log(int rank) {
        try {
            return Files.readString(dir.resolve("rank-" + rank + ".log"));
        } catch (java.io.IOException e) {
            return "(no log)";
        }
    }
}
