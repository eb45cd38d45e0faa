package io.longctx.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longctx.safetensors.SafetensorsFile;
import io.longctx.testing.TinyRuns;
import io.longctx.train.Checkpoints;
import io.longctx.train.Trainer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data-parallel training in real processes over loopback Gloo: two ranks compute what one rank with twice the
 * accumulation computes, sharding the optimizer changes nothing but who holds it, and a lost rank or a SIGTERM
 * ends in an exact resume.
 */
class DataParallelTrainingTest {
    private static final int STEPS = 8;
    /** 4 micro-batches of 2 sequences per step: 4 on one rank, 2 on each of two. */
    private static final String DISTRIBUTED = "distributed: {timeout_s: 60}\n";

    @TempDir
    Path tmp;

    private Path prepare(String name, String extra) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve(name));
        TinyRuns.writeRecipe(dir, STEPS, DISTRIBUTED + extra);
        Path recipe = dir.resolve("tiny.yaml");
        Files.writeString(recipe, Files.readString(recipe).replace("grad_accum: 2", "grad_accum: 4"));
        return dir;
    }

    private static Process train(Path dir, String... options) throws IOException {
        List<String> args = new ArrayList<>(List.of("train", dir.resolve("tiny.yaml").toString()));
        args.addAll(List.of(options));
        return new ProcessBuilder(Ranks.java("io.longctx.cli.Main", args.toArray(String[]::new)))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(
                        dir.resolve("console.txt").toFile())).start();
    }

    private static int finish(Process process, Path dir) throws Exception {
        assertTrue(process.waitFor(240, TimeUnit.SECONDS), "run did not finish: " + console(dir));
        return process.exitValue();
    }

    private static String console(Path dir) {
        try {
            return Files.exists(dir.resolve("console.txt")) ? Files.readString(dir.resolve("console.txt")) : "";
        } catch (IOException e) {
            return "(unreadable)";
        }
    }

    private static List<double[]> lossesAndNorms(Path dir) throws IOException {
        List<double[]> rows = new ArrayList<>();
        for (String line : Files.readAllLines(dir.resolve("run/metrics.csv")).subList(1, STEPS + 1)) {
            String[] cells = line.split(",");
            rows.add(new double[] {Double.parseDouble(cells[1]), Double.parseDouble(cells[3])});
        }
        return rows;
    }

    private static Path last(Path dir) {
        return dir.resolve("run/checkpoints/" + Checkpoints.name(STEPS));
    }

    /** The largest relative L2 difference of any tensor between two safetensors files. */
    private static double relativeDifference(Path a, Path b) {
        double worst = 0;
        try (SafetensorsFile x = SafetensorsFile.open(a); SafetensorsFile y = SafetensorsFile.open(b)) {
            assertEquals(x.tensors().keySet(), y.tensors().keySet());
            for (String name : x.tensors().keySet()) {
                float[] p = x.readFloats(name);
                float[] q = y.readFloats(name);
                double diff = 0;
                double norm = 0;
                for (int i = 0; i < p.length; i++) {
                    diff += (p[i] - (double) q[i]) * (p[i] - (double) q[i]);
                    norm += (double) p[i] * p[i];
                }
                worst = Math.max(worst, Math.sqrt(diff / Math.max(norm, 1e-30)));
            }
        }
        return worst;
    }

    /** SHA-256 of the final weights and every optimizer file, by file name. */
    private static Map<String, String> finalFiles(Path dir) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (var files = Files.list(last(dir))) {
            for (Path file : files.toList()) {
                String name = file.getFileName().toString();
                if (name.startsWith("optimizer") || name.equals(Checkpoints.MODEL)) {
                    out.put(name, io.longctx.Hashing.sha256(file));
                }
            }
        }
        return out;
    }

    @Test
    void twoRanks_equalOneRankWithDoubledAccumulation_andShardingChangesNothing() throws Exception {
        Ranks.assumeShim();
        Path one = prepare("one", "");
        Path two = prepare("two", "");
        Path sharded = prepare("sharded", "optimizer: {shard: true}\n");
        // with checkpointing, each segment's gradients are all-reduced while earlier segments are recomputed
        Path overlapped = prepare("overlapped", "activation_checkpointing: every_layer\n");
        assertEquals(0, finish(train(one), one), console(one));
        assertEquals(0, finish(train(overlapped, "--nproc", "2"), overlapped), console(overlapped));
        assertEquals(0, finish(train(two, "--nproc", "2"), two), console(two));
        assertEquals(0, finish(train(sharded, "--nproc", "2"), sharded), console(sharded));
        assertTrue(console(two).contains("ranks: 2 (this is rank 0), 2 of the step's 4 micro-batches each"),
                console(two));

        List<double[]> reference = lossesAndNorms(one);
        for (Path run : List.of(two, sharded, overlapped)) {
            List<double[]> rows = lossesAndNorms(run);
            for (int step = 0; step < STEPS; step++) {
                assertEquals(reference.get(step)[0], rows.get(step)[0], 1e-6, run + " loss of step " + (step + 1));
                assertEquals(reference.get(step)[1], rows.get(step)[1], 1e-5, run + " norm of step " + (step + 1));
            }
            double diff = relativeDifference(last(one).resolve(Checkpoints.MODEL), last(run).resolve(Checkpoints.MODEL));
            assertTrue(diff < 1e-6, run + ": final weights differ by " + diff + " (relative)");
        }
        assertTrue(Files.isRegularFile(last(sharded).resolve(ShardedUpdate.fileName(0, 2))));
        assertTrue(Files.isRegularFile(last(sharded).resolve(ShardedUpdate.fileName(1, 2))));
        assertFalse(Files.exists(last(sharded).resolve("optimizer.safetensors")));
        assertTrue(Files.readString(two.resolve("run/logs/rank-1.log")).contains("rank 1 of 2 joined"));
    }

    @Test
    void separateMasters_bf16AndOffload_shardedOrOverlapped_equalOneRank_andResumeExactlyFromGatheredWeights()
            throws Exception {
        Ranks.assumeShim();
        Path bf16One = prepare("bf16-one", "precision: bf16\n");
        Path bf16Replicated = prepare("bf16-replicated", "precision: bf16\n");
        Path bf16Two = prepare("bf16-two", "precision: bf16\noptimizer: {shard: true}\n");
        // bf16 sums of each recomputed segment added and launched during backward, then copied to the host
        Path bf16Overlapped = prepare("bf16-overlapped", "precision: bf16\noptimizer: {offload: host}\n"
                + "activation_checkpointing: every_layer\n");
        Path fp32One = prepare("fp32-one", "");
        Path offloadTwo = prepare("offload-two", "optimizer: {shard: true, offload: host}\n");
        assertEquals(0, finish(train(bf16One), bf16One), console(bf16One));
        assertEquals(0, finish(train(bf16Replicated, "--nproc", "2"), bf16Replicated), console(bf16Replicated));
        assertEquals(0, finish(train(bf16Two, "--nproc", "2"), bf16Two), console(bf16Two));
        assertEquals(0, finish(train(bf16Overlapped, "--nproc", "2"), bf16Overlapped), console(bf16Overlapped));
        assertEquals(0, finish(train(fp32One), fp32One), console(fp32One));
        assertEquals(0, finish(train(offloadTwo, "--nproc", "2"), offloadTwo), console(offloadTwo));
        // the sharded update's norm and AdamW run over flat shards, equal to the per-tensor ones within the last bit
        // of fp32; under bf16 a master one bit off can cast to the neighbouring bf16 value, so the sharded bf16 run
        // agrees with one rank to bf16 rounding, while the replicated one adds the same sums and agrees to 1e-6
        for (Path[] pair : List.of(new Path[] {bf16One, bf16Replicated}, new Path[] {bf16One, bf16Two},
                new Path[] {bf16One, bf16Overlapped}, new Path[] {fp32One, offloadTwo})) {
            double scale = pair[1] == bf16Two ? 300 : 1;
            List<double[]> reference = lossesAndNorms(pair[0]);
            List<double[]> rows = lossesAndNorms(pair[1]);
            for (int step = 0; step < STEPS; step++) {
                assertEquals(reference.get(step)[0], rows.get(step)[0], 1e-6 * scale, pair[1] + " loss of step "
                        + (step + 1));
                assertEquals(reference.get(step)[1], rows.get(step)[1], 1e-5 * scale, pair[1] + " norm of step "
                        + (step + 1));
            }
            // the saved fp32 weights are the masters gathered from both ranks' shards
            double diff = relativeDifference(last(pair[0]).resolve(Checkpoints.MODEL),
                    last(pair[1]).resolve(Checkpoints.MODEL));
            assertTrue(diff < 1e-6 * scale, pair[1] + ": final weights differ by " + diff + " (relative)");
            System.out.printf("%s vs %s: final weights differ by %.2e (relative)%n", pair[1].getFileName(),
                    pair[0].getFileName(), diff);
        }
        // resumed from step 4 on the same world size: the gathered weights sliced again give the same run, bit for bit
        Map<String, String> uninterrupted = finalFiles(bf16Two);
        for (int step : List.of(6, 8)) {
            Path checkpoint = bf16Two.resolve("run/checkpoints/" + Checkpoints.name(step));
            Files.move(checkpoint, bf16Two.resolve("uninterrupted-" + step));
        }
        assertEquals(0, finish(train(bf16Two, "--nproc", "2"), bf16Two), console(bf16Two));
        assertTrue(console(bf16Two).contains("resuming from"), console(bf16Two));
        assertEquals(uninterrupted, finalFiles(bf16Two));
    }

    @Test
    void sigtermInsideAStep_withShardedBf16Sums_savesEachRanksSumShard_andResumesExactly() throws Exception {
        Ranks.assumeShim();
        String recipe = "precision: bf16\noptimizer: {shard: true}\n";
        Path reference = prepare("reference", recipe);
        assertEquals(0, finish(train(reference, "--nproc", "2"), reference), console(reference));

        // 2 micro-batches per rank and step: each rank's 5th is the first of step 3
        Path stopped = prepare("stopped", recipe);
        List<String> command = new ArrayList<>(Ranks.java("io.longctx.cli.Main", "train",
                stopped.resolve("tiny.yaml").toString(), "--nproc", "2"));
        command.add(1, "-Dlongctx.test.holdAfterMicroBatch=5");       // TrainingLoop.HOLD_PROPERTY: hold there
        Process launcher = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(stopped.resolve("console.txt").toFile())).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
        while (!Files.exists(stopped.resolve("run/held-after-micro-5"))
                || !Files.exists(stopped.resolve("run/held-after-micro-5-rank-1"))) {
            assertTrue(launcher.isAlive() && System.nanoTime() < deadline, "no hold: " + console(stopped));
            Thread.sleep(20);
        }
        launcher.destroy();
        assertEquals(Trainer.EXIT_PREEMPTED, finish(launcher, stopped), console(stopped));
        List<String> partial;
        try (var walk = Files.walk(stopped.resolve("run/checkpoints"))) {
            partial = walk.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("gradients-rank-")).sorted()
                    .toList();
        }
        assertEquals(List.of(Checkpoints.gradientsFile(0, 2), Checkpoints.gradientsFile(1, 2)), partial);
        Path midStep = stopped.resolve("run/checkpoints/step-000002-micro-000002");
        try (SafetensorsFile sums = SafetensorsFile.open(midStep.resolve(Checkpoints.gradientsFile(1, 2)))) {
            assertEquals(java.util.Set.of("gradient_shard"), sums.tensors().keySet());  // rank 1's fp32 sum shard
            assertEquals(26_880 / 2, sums.entry("gradient_shard").shape()[0]);
        }
        assertEquals(0, finish(train(stopped, "--nproc", "2"), stopped), console(stopped));
        assertTrue(console(stopped).contains("after micro-batch 2 of step 3"), console(stopped));   // 1 per rank
        assertEquals(finalFiles(reference), finalFiles(stopped));
    }

    @Test
    void sigkillOfRankOneAtARandomStep_restartsTheJob_andEndsByteIdentical() throws Exception {
        Ranks.assumeShim();
        Path reference = prepare("reference", "optimizer: {shard: true}\n");
        assertEquals(0, finish(train(reference, "--nproc", "2"), reference), console(reference));

        Path killed = prepare("killed", "optimizer: {shard: true}\n");
        int killAt = 2 + new Random(20261204L).nextInt(STEPS - 3);
        Process launcher = train(killed, "--nproc", "2", "--max-restarts", "1");
        waitForStep(launcher, killed, killAt);
        long pid = rankPid(killed, 1);
        ProcessHandle.of(pid).orElseThrow().destroyForcibly();
        assertEquals(0, finish(launcher, killed), console(killed));
        String log = console(killed);
        assertTrue(log.contains("launcher: rank 1 of 2 was killed by signal 9"), log);
        assertTrue(log.contains("restarting all 2 ranks"), log);
        assertTrue(log.contains("resuming from"), log);
        assertEquals(finalFiles(reference), finalFiles(killed));
    }

    @Test
    void sigtermToTheLauncher_exits75_andTheRerunResumesExactly() throws Exception {
        Ranks.assumeShim();
        Path reference = prepare("reference", "");
        assertEquals(0, finish(train(reference, "--nproc", "2"), reference), console(reference));

        Path stopped = prepare("stopped", "");
        Process launcher = train(stopped, "--nproc", "2");
        waitForStep(launcher, stopped, 3);
        launcher.destroy();
        assertEquals(Trainer.EXIT_PREEMPTED, finish(launcher, stopped), console(stopped));
        assertTrue(console(stopped).contains("checkpoint written"), console(stopped));
        assertEquals(0, finish(train(stopped, "--nproc", "2"), stopped), console(stopped));
        assertEquals(finalFiles(reference), finalFiles(stopped));
    }

    @Test
    void resumeOnAnotherWorldSize_reshardsWithOneLine_andMatchesWithinRounding() throws Exception {
        Ranks.assumeShim();
        Path two = prepare("two", "optimizer: {shard: true}\n");
        Path one = prepare("one", "optimizer: {shard: true}\n");
        assertEquals(0, finish(train(two, "--nproc", "2"), two), console(two));
        assertEquals(0, finish(train(one), one), console(one));
        // each resumes from step 4 on the other world size: 2 ranks -> 1 process, 1 process -> 2 ranks
        for (Path run : List.of(two, one)) {
            for (int step : List.of(6, 8)) {
                Path checkpoint = run.resolve("run/checkpoints/" + Checkpoints.name(step));
                Files.move(checkpoint, run.resolve("uninterrupted-" + step));
            }
        }
        assertEquals(0, finish(train(two), two), console(two));
        assertEquals(0, finish(train(one, "--nproc", "2"), one), console(one));
        assertTrue(console(two).contains("resuming a checkpoint of 2 rank(s) with 1"), console(two));
        assertTrue(console(two).contains("joining the sharded optimizer state"), console(two));
        assertTrue(console(one).contains("resuming a checkpoint of 1 rank(s) with 2"), console(one));
        assertTrue(console(one).contains("sharding the replicated optimizer state"), console(one));
        for (Path run : List.of(two, one)) {
            double diff = relativeDifference(run.resolve("uninterrupted-8").resolve(Checkpoints.MODEL),
                    last(run).resolve(Checkpoints.MODEL));
            assertTrue(diff < 1e-6, run + ": resumed on another world size, the final weights differ by " + diff);
        }
    }

    @Test
    void aGlobalBatchThatDoesNotDeal_isRefusedBeforeAnythingIsWritten() throws Exception {
        Ranks.assumeShim();
        Path dir = prepare("odd", "");
        Path recipe = dir.resolve("tiny.yaml");
        Files.writeString(recipe, Files.readString(recipe).replace("grad_accum: 4", "grad_accum: 3"));
        assertEquals(2, finish(train(dir, "--nproc", "2"), dir));
        assertTrue(console(dir).contains("train.grad_accum: 3 micro-batches per step (the global batch) cannot be "
                + "dealt evenly to 2 ranks"), console(dir));
        assertFalse(Files.exists(dir.resolve("run")));
    }

    @Test
    void withoutTheShim_moreThanOneProcessSaysWhyInOneLine() throws Exception {
        Path dir = prepare("noshim", "");
        List<String> command = new ArrayList<>(Ranks.java("io.longctx.cli.Main", "train",
                dir.resolve("tiny.yaml").toString(), "--nproc", "2"));
        command.removeIf(arg -> arg.startsWith("-D" + C10dShim.PROPERTY + "="));
        command.add(1, "-D" + C10dShim.PROPERTY + "=" + dir.resolve("missing/liblongctx_c10d.so"));
        Process process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve("console.txt").toFile()).start();
        assertEquals(2, finish(process, dir));
        assertTrue(console(dir).contains("error: --nproc 2 needs the c10d shim, which is not built"), console(dir));
        assertTrue(console(dir).contains("run scripts/build-c10d-shim.sh"), console(dir));
        assertFalse(Files.exists(dir.resolve("run")));
    }

    @Test
    void ranksWithDifferentRecipes_areRefusedBeforeAnythingIsWritten() throws Exception {
        Ranks.assumeShim();
        Path dir = prepare("mismatch", "");
        List<Process> ranks = Ranks.start(2, Ranks.freePort(), dir, Map.of(), rank -> Ranks.java(
                "io.longctx.cli.Main", "train", dir.resolve("tiny.yaml").toString(), "--set",
                "train.lr=" + (rank == 0 ? "0.003" : "0.002")));
        int[] codes = Ranks.waitAll(ranks, 120);
        assertEquals(2, codes[0]);
        assertEquals(2, codes[1]);
        assertTrue(Files.readString(dir.resolve("rank-1.log")).contains("rank 1: the resolved recipe differs from "
                + "rank 0's"), Files.readString(dir.resolve("rank-1.log")));
        assertFalse(Files.exists(dir.resolve("run")));
    }

    @Test
    void aMasterThatDoesNotAnswer_isOneClearLine() throws Exception {
        Ranks.assumeShim();
        Path dir = prepare("nomaster", "");
        Path recipe = dir.resolve("tiny.yaml");
        Files.writeString(recipe, Files.readString(recipe).replace("timeout_s: 60", "timeout_s: 3"));
        List<Process> ranks = Ranks.start(1, Ranks.freePort(), dir, Map.of("RANK", "1", "WORLD_SIZE", "2"),
                Ranks.java("io.longctx.cli.Main", "train", recipe.toString()));
        int[] codes = Ranks.waitAll(ranks, 120);
        String log = Files.readString(dir.resolve("rank-0.log"));
        assertEquals(2, codes[0], log);
        assertTrue(log.contains("rank 1 of 2: cannot join the process group at 127.0.0.1:"), log);
        assertTrue(log.contains("does not answer"), log);
        assertFalse(Files.exists(dir.resolve("run")));
    }

    private static void waitForStep(Process process, Path dir, int step) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
        Path csv = dir.resolve("run/metrics.csv");
        while (!Files.exists(csv) || Files.readAllLines(csv).stream().filter(l -> !l.isBlank()).count() - 1 < step) {
            assertTrue(process.isAlive(), "the run ended before step " + step + ": " + console(dir));
            assertTrue(System.nanoTime() < deadline, "no step " + step + " in time: " + console(dir));
            Thread.sleep(20);
        }
    }

    private static long rankPid(Path dir, int rank) throws IOException {
        Matcher m = Pattern.compile("rank " + rank + " of \\d+ joined \\(pid (\\d+)").matcher(
                Files.readString(dir.resolve("run/logs/rank-" + rank + ".log")));
        assertTrue(m.find(), "rank " + rank + " logged its pid");
        return Long.parseLong(m.group(1));
    }
}
