package io.longctx.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longctx.testing.TinyRuns;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Preemption as a batch scheduler does it, in real child processes: SIGKILL at two different steps (no chance to
 * clean up) and SIGTERM (graceful). Each interrupted run is restarted with the same command, and its final weights
 * must be byte-identical to an uninterrupted run's.
 */
class KillAndResumeTest {
    private static final int STEPS = 10;

    @TempDir
    Path tmp;

    private Process start(Path dir, String... jvmFlags) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.addAll(List.of(jvmFlags));
        for (String property : List.of("DJL_CACHE_DIR", "ai.djl.offline", "jna.tmpdir")) {
            if (System.getProperty(property) != null) {
                command.add("-D" + property + "=" + System.getProperty(property));
            }
        }
        command.add("io.longctx.cli.Main");
        command.add("train");
        command.add(dir.resolve("tiny.yaml").toString());
        return new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve("log-" + System.nanoTime() + ".txt").toFile()).start();
    }

    private Path prepare(String name) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve(name));
        TinyRuns.writeRecipe(dir, STEPS, "");
        return dir;
    }

    private static int stepsLogged(Path dir) throws IOException {
        Path csv = dir.resolve("run/metrics.csv");
        return Files.exists(csv) ? (int) Files.readAllLines(csv).stream().filter(l -> !l.isBlank()).count() - 1 : 0;
    }

    private static void waitForStep(Process process, Path dir, int step) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (stepsLogged(dir) < step) {
            assertTrue(process.isAlive(), "the run ended before step " + step + ": " + logs(dir));
            assertTrue(System.nanoTime() < deadline, "no step " + step + " within 2 minutes: " + logs(dir));
            Thread.sleep(20);
        }
    }

    private static int finish(Process process, Path dir) throws Exception {
        assertTrue(process.waitFor(180, TimeUnit.SECONDS), "run did not finish: " + logs(dir));
        return process.exitValue();
    }

    private static String logs(Path dir) throws IOException {
        StringBuilder all = new StringBuilder();
        try (var files = Files.list(dir)) {
            for (Path log : files.filter(p -> p.getFileName().toString().startsWith("log-")).sorted().toList()) {
                all.append(Files.readString(log));
            }
        }
        return all.toString();
    }

    private static String finalWeightsSha(Path dir) throws IOException {
        return finalWeightsSha(dir, STEPS);
    }

    private static String finalWeightsSha(Path dir, int steps) throws IOException {
        Path last = dir.resolve("run/checkpoints/" + Checkpoints.name(steps));
        assertTrue(Files.isDirectory(last), "final checkpoint exists: " + logs(dir));
        return io.longctx.Hashing.sha256(last.resolve("model.safetensors")) + " "
                + io.longctx.Hashing.sha256(last.resolve("optimizer.safetensors"));
    }

    @Test
    void sigkillAtTwoSteps_thenResume_givesByteIdenticalWeights() throws Exception {
        Path reference = prepare("uninterrupted");
        assertEquals(0, finish(start(reference), reference), logs(reference));
        String expected = finalWeightsSha(reference);

        Path killed = prepare("killed");
        Process first = start(killed);
        waitForStep(first, killed, 3);
        first.destroyForcibly().waitFor();
        Process second = start(killed);
        waitForStep(second, killed, 7);
        second.destroyForcibly().waitFor();
        assertEquals(0, finish(start(killed), killed), logs(killed));
        assertTrue(logs(killed).contains("resuming from"), logs(killed));
        assertEquals(expected, finalWeightsSha(killed));
    }

    @Test
    void sigterm_checkpointsAndExitsWithThePreemptionCode_thenResumesExactly() throws Exception {
        Path reference = prepare("uninterrupted");
        assertEquals(0, finish(start(reference), reference), logs(reference));
        String expected = finalWeightsSha(reference);

        Path preempted = prepare("preempted");
        Process first = start(preempted);
        waitForStep(first, preempted, 3);
        first.destroy();
        assertEquals(Trainer.EXIT_PREEMPTED, finish(first, preempted), logs(preempted));
        assertTrue(logs(preempted).contains("received SIGTERM: checkpoint written"), logs(preempted));
        assertEquals(0, finish(start(preempted), preempted), logs(preempted));
        assertEquals(expected, finalWeightsSha(preempted));
    }

    private static final int MID_STEPS = 4;

    private Path prepareAccumulating(String name) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve(name));
        Path recipe = TinyRuns.writeRecipe(dir, MID_STEPS, "");
        Files.writeString(recipe, Files.readString(recipe).replace("grad_accum: 2", "grad_accum: 4"));
        return dir;
    }

    /** Holds the child after its n-th micro-batch of the run, so a signal lands exactly there. */
    private static String holdAfter(int microBatches) {
        return "-D" + TrainingLoop.HOLD_PROPERTY + "=" + microBatches;
    }

    private static void waitForHold(Process process, Path dir, int microBatches) throws Exception {
        Path marker = dir.resolve("run/held-after-micro-" + microBatches);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!Files.exists(marker)) {
            assertTrue(process.isAlive(), "the run ended before micro-batch " + microBatches + ": " + logs(dir));
            assertTrue(System.nanoTime() < deadline, "no micro-batch " + microBatches + ": " + logs(dir));
            Thread.sleep(20);
        }
    }

    @Test
    void sigtermInsideAStep_checkpointsThePartialGradient_thenResumesThatStepExactly() throws Exception {
        Path reference = prepareAccumulating("uninterrupted");
        assertEquals(0, finish(start(reference), reference), logs(reference));
        String expected = finalWeightsSha(reference, MID_STEPS);

        // grad_accum 4: the 6th micro-batch is the 2nd of step 2
        Path preempted = prepareAccumulating("preempted");
        Process first = start(preempted, holdAfter(6));
        waitForHold(first, preempted, 6);
        first.destroy();
        assertEquals(Trainer.EXIT_PREEMPTED, finish(first, preempted), logs(preempted));
        assertTrue(logs(preempted).contains("inside step 2 after micro-batch 2 of 4"), logs(preempted));
        Path midStep = preempted.resolve("run/checkpoints/step-000001-micro-000002");
        assertTrue(Files.isRegularFile(midStep.resolve(Checkpoints.GRADIENTS)), logs(preempted));

        // SIGKILL after the mid-step checkpoint exists: the next run resumes from it again
        Process second = start(preempted, holdAfter(7));
        waitForHold(second, preempted, 7);
        second.destroyForcibly().waitFor();
        assertEquals(0, finish(start(preempted), preempted), logs(preempted));
        assertTrue(logs(preempted).contains("resuming from " + midStep + " at step 1 after micro-batch 2 of step 2"),
                logs(preempted));
        assertEquals(expected, finalWeightsSha(preempted, MID_STEPS));
        assertFalse(logs(preempted).contains("AutoNonVariableTypeMode"), "no libtorch warning reaches the user");
        assertTrue(Files.isRegularFile(preempted.resolve("run/" + RunFolder.PREEMPTION)), logs(preempted));
    }
}
