package io.longctx.distributed;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/** Starts JVMs as the ranks of a loopback job, with the test JVM's class path and engine settings. */
final class Ranks {
    private Ranks() {
    }

    static void assumeShim() {
        Assumptions.assumeTrue(C10dShim.available(), "c10d shim not built (" + C10dShim.location()
                + "): run scripts/build-c10d-shim.sh; multi-process tests skipped");
    }

    static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    /** The java command for a main class, with the properties the engine and the shim need. */
    static List<String> java(String mainClass, String... args) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String property : List.of("DJL_CACHE_DIR", "ai.djl.offline", "jna.tmpdir", C10dShim.PROPERTY)) {
            String value = System.getProperty(property);
            if (value != null) {
                command.add("-D" + property + "=" + value);
            }
        }
        command.add("-Xss8m");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(mainClass);
        command.addAll(List.of(args));
        return command;
    }

    /** Starts one process per rank with torchrun's variables; output goes to rank-R.log in {@code logs}. */
    static List<Process> start(int world, int port, Path logs, Map<String, String> extraEnv, List<String> command)
            throws IOException {
        return start(world, port, logs, extraEnv, rank -> command);
    }

    /** As above, with a command per rank. */
    static List<Process> start(int world, int port, Path logs, Map<String, String> extraEnv,
            java.util.function.IntFunction<List<String>> command) throws IOException {
        List<Process> processes = new ArrayList<>();
        for (int rank = 0; rank < world; rank++) {
            ProcessBuilder builder = new ProcessBuilder(command.apply(rank));
            builder.environment().putAll(Map.of("RANK", "" + rank, "WORLD_SIZE", "" + world, "LOCAL_RANK",
                    "" + rank, "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", "" + port));
            builder.environment().putAll(extraEnv);
            builder.redirectErrorStream(true).redirectOutput(logs.resolve("rank-" + rank + ".log").toFile());
            processes.add(builder.start());
        }
        return processes;
    }

    static int[] waitAll(List<Process> processes, int seconds) throws InterruptedException {
        int[] codes = new int[processes.size()];
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        for (int i = 0; i < codes.length; i++) {
            Process p = processes.get(i);
            if (!p.waitFor(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                processes.forEach(Process::destroyForcibly);
                throw new AssertionError("rank " + i + " did not finish within " + seconds + " s");
            }
            codes[i] = p.exitValue();
        }
        return codes;
    }
}
