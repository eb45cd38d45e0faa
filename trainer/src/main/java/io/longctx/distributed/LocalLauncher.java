package io.longctx.distributed;

import io.longctx.LongctxException;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * {@code train --nproc N}: starts N ranks of the same command on this machine (as torchrun --nproc-per-node N
 * does), with torchrun's variables and 1/N of the CPU threads each. Rank 0 prints to this console; every rank's
 * console output goes to logs/rank-R.out in the run folder. When a rank dies, the others fail within the collective
 * timeout (or are stopped after it), the lost rank is named, and the whole job restarts, resuming from the newest
 * complete checkpoint, up to {@code maxRestarts} times. SIGTERM or SIGINT here is passed to every rank, which all
 * checkpoint and exit 75.
 */
public final class LocalLauncher {
    /** Exit codes a restart would not change: done, bad input, diverged, preempted. */
    private static final List<Integer> FINAL = List.of(0, 2, 3, 75);

    private final int ranks;
    private final int maxRestarts;
    private final List<String> arguments;
    private final boolean restartFirst;
    private final Path runDir;
    private final int timeoutSeconds;
    private final Consumer<String> log;
    private final AtomicBoolean stopping = new AtomicBoolean();
    private final List<Process> running = new ArrayList<>();

    /**
     * @param arguments the CLI arguments each rank runs (train RECIPE ..., without --nproc and --restart)
     * @param restartFirst the first attempt starts the run over (--restart); relaunches resume
     * @param timeoutSeconds the recipe's collective timeout: how long survivors may take to notice a lost rank
     */
    public LocalLauncher(int ranks, int maxRestarts, List<String> arguments, boolean restartFirst, Path runDir,
            int timeoutSeconds, Consumer<String> log) {
        this.restartFirst = restartFirst;
        this.ranks = ranks;
        this.maxRestarts = maxRestarts;
        this.arguments = List.copyOf(arguments);
        this.runDir = runDir;
        this.timeoutSeconds = timeoutSeconds;
        this.log = log;
    }

    public int run() {
        if (!C10dShim.available()) {
            throw new LongctxException("--nproc " + ranks + " needs the c10d shim, which is not built ("
                    + C10dShim.location() + "): run scripts/build-c10d-shim.sh");
        }
        installSignalHandlers();
        int code = 1;
        for (int attempt = 0; attempt <= maxRestarts; attempt++) {
            if (attempt > 0) {
                log.accept(String.format(Locale.ROOT, "launcher: restarting all %d ranks (restart %d of %d); "
                        + "they resume from the newest complete checkpoint", ranks, attempt, maxRestarts));
            }
            code = runOnce(attempt == 0 && restartFirst);
            if (FINAL.contains(code) || stopping.get()) {
                return code;
            }
        }
        log.accept("launcher: giving up after " + maxRestarts + " restart(s)");
        return code;
    }

    private int runOnce(boolean restart) {
        int port = port();
        List<Process> processes = new ArrayList<>();
        try {
            Files.createDirectories(runDir.resolve("logs"));
            int threads = Math.max(1, Runtime.getRuntime().availableProcessors() / ranks);
            for (int rank = 0; rank < ranks; rank++) {
                ProcessBuilder builder = new ProcessBuilder(command(threads, restart));
                Map<String, String> env = builder.environment();
                env.put("RANK", Integer.toString(rank));
                env.put("LOCAL_RANK", Integer.toString(rank));
                env.put("WORLD_SIZE", Integer.toString(ranks));
                env.put("LOCAL_WORLD_SIZE", Integer.toString(ranks));
                env.put("MASTER_ADDR", "127.0.0.1");
                env.put("MASTER_PORT", Integer.toString(port));
                env.put("OMP_NUM_THREADS", Integer.toString(threads));
                if (rank == 0) {
                    builder.inheritIO();
                } else {
                    builder.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(
                            runDir.resolve("logs").resolve("rank-" + rank + ".out").toFile()));
                }
                processes.add(builder.start());
            }
        } catch (IOException e) {
            processes.forEach(Process::destroyForcibly);
            throw new LongctxException("launcher: cannot start the ranks (" + e.getMessage() + ")");
        }
        synchronized (running) {
            running.clear();
            running.addAll(processes);
        }
        return supervise(processes);
    }

    /** Waits for every rank; the first to fail is named, and the rest get the collective timeout to follow. */
    private int supervise(List<Process> processes) {
        int firstFailed = -1;
        long deadline = Long.MAX_VALUE;
        while (true) {
            boolean allDone = true;
            for (int rank = 0; rank < processes.size(); rank++) {
                Process p = processes.get(rank);
                if (p.isAlive()) {
                    allDone = false;
                } else if (firstFailed < 0 && p.exitValue() != 0 && !(stopping.get() && p.exitValue() == 75)) {
                    firstFailed = rank;
                    log.accept("launcher: rank " + rank + " of " + ranks + " " + describe(p.exitValue())
                            + (rank == 0 ? "" : " (its output: " + runDir.resolve("logs/rank-" + rank + ".out") + ")")
                            + "; the other ranks stop within the collective timeout");
                    deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds + 30L);
                }
            }
            if (allDone) {
                break;
            }
            if (System.nanoTime() > deadline) {
                log.accept("launcher: stopping the ranks still running " + (timeoutSeconds + 30) + " s after rank "
                        + firstFailed + " was lost");
                processes.forEach(Process::destroyForcibly);
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                processes.forEach(Process::destroyForcibly);
                Thread.currentThread().interrupt();
                return 1;
            }
        }
        if (firstFailed >= 0) {
            int code = processes.get(firstFailed).exitValue();
            return code == 2 ? 2 : (FINAL.contains(code) ? 1 : code);
        }
        return processes.get(0).exitValue() == 0 && stopping.get() ? 75 : processes.get(0).exitValue();
    }

    private static String describe(int code) {
        return code > 128 ? "was killed by signal " + (code - 128) : "exited with code " + code;
    }

    /** This JVM's own command for a rank: same java, same flags and class path, the CLI's main class. */
    private List<String> command(int threads, boolean restart) {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin",
                "java").toString()));
        for (String flag : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (!flag.startsWith("-Dai.djl.pytorch.num_") && !flag.startsWith("-agentlib")
                    && !flag.startsWith("-javaagent")) {
                command.add(flag);
            }
        }
        command.add("-Dai.djl.pytorch.num_threads=" + threads);
        command.add("-Dai.djl.pytorch.num_interop_threads=1");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add("io.longctx.cli.Main");
        command.addAll(arguments);
        if (restart) {
            command.add("--restart");
        }
        return command;
    }

    private static int port() {
        String fixed = System.getenv("MASTER_PORT");
        if (fixed != null && !fixed.isBlank()) {
            return Integer.parseInt(fixed.trim());
        }
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new LongctxException("launcher: no free TCP port on 127.0.0.1 (" + e.getMessage() + ")");
        }
    }

    private void installSignalHandlers() {
        for (String name : List.of("TERM", "INT")) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(name), signal -> {
                    stopping.set(true);
                    log.accept("launcher: SIG" + signal.getName() + ": asking every rank to checkpoint and stop");
                    synchronized (running) {
                        running.forEach(Process::destroy);         // SIGTERM: each rank's graceful stop
                    }
                });
            } catch (IllegalArgumentException e) {
                // not available on this platform
            }
        }
    }
}
