package io.longctx.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import io.longctx.LongctxException;
import io.longctx.Progress;
import io.longctx.data.store.TokenStore;
import io.longctx.distributed.DataParallel;
import io.longctx.precision.TrainingWeights;
import io.longctx.profile.OpProfile;
import io.longctx.profile.Profiler;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * The optimizer steps of a run, top to bottom: take the step's batch, run its micro-batches (stopping between two
 * when a stop is requested, with a checkpoint that holds the partial gradient), update, log, evaluate, checkpoint.
 */
final class TrainingLoop {
    private static final List<String> STEP_COLUMNS = List.of("step", "loss", "lr", "grad_norm", "clip_scale",
            "tokens", "tokens_per_s", "step_s", "elapsed_s", "rss_mib", "device_mib", "device_peak_mib", "skipped");
    /**
     * Test seam for exact signal timing: after this many micro-batches of the run, the loop writes a marker file
     * in the run folder and waits (up to two minutes) for a stop request, so a test can deliver a signal between
     * two given micro-batches.
     */
    static final String HOLD_PROPERTY = "longctx.test.holdAfterMicroBatch";

    private final Recipe recipe;
    private final Consumer<String> log;
    private final Trainer.Session session;
    private final RunFolder folder;
    private final TokenStore store;
    private final StepRunner runner;
    private final LrSchedule schedule;
    private final JsonNode configJson;
    private final String recipeYaml;
    private final TrainingEval eval;
    private final AtomicReference<String> stopRequest;
    private final Path runDir;
    private final int profileStep;
    private final long holdAfter = Long.getLong(HOLD_PROPERTY, -1L);
    private double slowestMicroBatch;
    private double slowestCheckpoint;

    TrainingLoop(Recipe recipe, Consumer<String> log, Trainer.Session session, RunFolder folder, TokenStore store,
            JsonNode configJson, AtomicReference<String> stopRequest, int profileStep, int startStep) {
        this.recipe = recipe;
        this.log = log;
        this.session = session;
        this.folder = folder;
        this.store = store;
        this.runner = new StepRunner(session.model(), recipe.run().checkpointLayers(), recipe.run().keepLast(),
                recipe.run().saveAttention(), recipe.data().packing().documentAware());
        this.schedule = LrSchedule.of(recipe.train());
        this.configJson = configJson;
        this.recipeYaml = ResolvedRecipe.yaml(recipe);
        this.eval = folder == null ? null : new TrainingEval(session.model(), runner, store, recipe.eval(),
                new MetricsLog(folder.dir(), "eval", TrainingEval.columns(recipe.eval()), startStep), log,
                folder.dir().resolve("eval.png"), recipe.train().seed());
        this.runDir = recipe.output().dir();
        this.stopRequest = stopRequest;
        this.profileStep = profileStep;
    }

    int run(TrainingState start) {
        TrainConfig t = recipe.train();
        // rank 0 owns the run folder and writes metrics; every rank writes its own checkpoint files
        MetricsLog metrics = folder == null ? null : new MetricsLog(folder.dir(), "metrics", STEP_COLUMNS,
                start.step());
        DataParallel parallel = session.parallel();
        if (start.step() >= t.steps()) {
            log.accept("nothing to do: the newest checkpoint is at step " + start.step() + " of " + t.steps());
            return Trainer.EXIT_DONE;
        }
        TrainingState state = start;
        long startNanos = System.nanoTime();
        long tokensThisSession = 0;
        long devicePeakMiB = -1;
        try (BatchLoader loader = new BatchLoader(store.split("train"), state.sampler(), t.microBatch(),
                t.gradAccum(), t.steps() - state.step())) {
            for (int step = state.step() + 1; step <= t.steps(); step++) {
                long stepStart = System.nanoTime();
                BatchLoader.StepBatch batch = loader.next();
                double lr = schedule.at(step);
                // a mid-step checkpoint counts the step's micro-batches done over all ranks and their summed NLL
                OptimizerStep.Start from = new OptimizerStep.Start(state.microBatchesDone() / parallel.size(),
                        parallel.rank() == 0 ? state.partialNll() : 0);
                OptimizerStep.Outcome outcome = runStep(step, batch, lr, from, stepStart);
                if (outcome.interrupted()) {
                    int done = outcome.microBatchesDone() * parallel.size();
                    Path saved = checkpoint(state.paused(done, parallel.sum(outcome.nll())));
                    log.accept(stopReason() + ": checkpoint written inside step " + step + " after micro-batch "
                            + done + " of " + t.gradAccum() + " (" + saved + "); rerun the "
                            + "same command to resume (exit code " + Trainer.EXIT_PREEMPTED + ")");
                    return Trainer.EXIT_PREEMPTED;
                }
                int bad = outcome.finite() ? 0 : state.badSteps() + 1;
                if (!outcome.finite()) {
                    log.accept(String.format(Locale.ROOT, "step %d: loss %s, gradient norm %s: step skipped "
                            + "(%d in a row, limit %d)", step, outcome.loss(), outcome.gradNorm(), bad,
                            t.maxBadSteps()));
                }
                tokensThisSession += outcome.tokens();
                state = new TrainingState(step, batch.cursorAfter(), state.tokensSeen() + outcome.tokens(), bad,
                        outcome.finite() ? outcome.loss() : state.lastLoss(), 0, 0);
                double stepSeconds = (System.nanoTime() - stepStart) / 1e9;
                double elapsed = (System.nanoTime() - startNanos) / 1e9;
                long deviceMiB = Memory.deviceUsedMiB(session.manager().getDevice());
                devicePeakMiB = Math.max(devicePeakMiB, deviceMiB);
                if (metrics != null) {
                    metrics.append(row(step, outcome, lr, state, stepSeconds, elapsed, deviceMiB, devicePeakMiB));
                }
                double eta = elapsed / (step - start.step()) * (t.steps() - step);
                log.accept(String.format(Locale.ROOT, "step %d/%d loss %.4f lr %.3g gnorm %.3f tok/s %,.0f "
                        + "elapsed %s ETA %s rss %d MiB%s", step, t.steps(), outcome.loss(), lr, outcome.gradNorm(),
                        tokensThisSession / elapsed, Progress.formatDuration(elapsed), Progress.formatDuration(eta),
                        Memory.residentMiB(), deviceMiB < 0 ? ""
                                : String.format(Locale.ROOT, " gpu %d MiB (peak %d)", deviceMiB, devicePeakMiB)));
                if (bad >= t.maxBadSteps()) {
                    Path saved = checkpoint(state);
                    log.accept("stopping: " + bad + " non-finite steps in a row at step " + step + "; the last "
                            + "good weights are in " + saved + " (lower train.lr or raise train.clip_norm)");
                    return Trainer.EXIT_DIVERGED;
                }
                if (eval != null && eval.due(step)) {
                    eval.run(session.manager(), step);
                }
                boolean last = step == t.steps();
                boolean due = last || step % recipe.output().checkpointEvery() == 0;
                if (due) {
                    checkpoint(state);
                }
                if (!last && parallel.any(stopRequest.get() != null)) {
                    if (!due) {
                        checkpoint(state);
                    }
                    log.accept(stopReason() + ": checkpoint written at step " + step + "; rerun the same "
                            + "command to resume (exit code " + Trainer.EXIT_PREEMPTED + ")");
                    return Trainer.EXIT_PREEMPTED;
                }
            }
        }
        log.accept(String.format(Locale.ROOT, "done: %d steps, final loss %.4f, peak rss %d MiB; checkpoints in %s",
                t.steps(), state.lastLoss(), Memory.peakResidentMiB(), new Checkpoints(runDir).root()));
        return Trainer.EXIT_DONE;
    }

    /** The step's micro-batches from where it starts; between two, a stop request interrupts it. */
    private OptimizerStep.Outcome runStep(int step, BatchLoader.StepBatch batch, double lr, OptimizerStep.Start from,
            long stepStart) {
        long[] microStart = {System.nanoTime()};
        int accum = recipe.train().gradAccum() / session.parallel().size();   // this rank's share
        java.util.function.IntPredicate stopAfter = done -> {
            double seconds = (System.nanoTime() - microStart[0]) / 1e9;
            slowestMicroBatch = Math.max(slowestMicroBatch, seconds);
            microStart[0] = System.nanoTime();
            holdIfAsked((long) (step - 1) * accum + done);
            return stopRequest.get() != null;
        };
        if (step == profileStep) {
            return profiled(step, batch, lr, from, stopAfter);
        }
        OptimizerStep.Outcome outcome = OptimizerStep.run(session.manager(), runner, session.update(),
                session.weights(), batch.microBatches(), step, lr, recipe.train().clipNorm(), from, stopAfter,
                session.parallel());
        if (!outcome.interrupted()) {
            slowestMicroBatch = Math.max(slowestMicroBatch, (System.nanoTime() - microStart[0]) / 1e9);
        }
        return outcome;
    }

    private void holdIfAsked(long microBatchesOfRun) {
        if (holdAfter != microBatchesOfRun) {
            return;
        }
        try {
            int rank = session.parallel().rank();
            Files.writeString(runDir.resolve("held-after-micro-" + microBatchesOfRun + (rank > 0 ? "-rank-" + rank
                    : "")), "");
            long deadline = System.nanoTime() + 120_000_000_000L;
            while (stopRequest.get() == null && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
        } catch (IOException | InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static Map<String, Object> row(int step, OptimizerStep.Outcome outcome, double lr, TrainingState state,
            double stepSeconds, double elapsed, long deviceMiB, long devicePeakMiB) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("step", step);
        row.put("loss", outcome.finite() ? outcome.loss() : null);
        row.put("lr", lr);
        row.put("grad_norm", Double.isFinite(outcome.gradNorm()) ? outcome.gradNorm() : null);
        row.put("clip_scale", outcome.clipScale());
        row.put("tokens", state.tokensSeen());
        row.put("tokens_per_s", outcome.tokens() / stepSeconds);
        row.put("step_s", stepSeconds);
        row.put("elapsed_s", elapsed);
        row.put("rss_mib", Memory.residentMiB());
        row.put("device_mib", deviceMiB < 0 ? null : deviceMiB);
        row.put("device_peak_mib", devicePeakMiB < 0 ? null : devicePeakMiB);
        row.put("skipped", outcome.finite() ? 0 : 1);
        return row;
    }

    /** The step under the profiler: a Chrome trace and a self-time table in the run folder, the table logged. */
    private OptimizerStep.Outcome profiled(int step, BatchLoader.StepBatch batch, double lr,
            OptimizerStep.Start from, java.util.function.IntPredicate stopAfter) {
        Path trace = runDir.resolve("profile-step-" + step + (session.parallel().size() > 1 ? "-rank-"
                + session.parallel().rank() : "") + ".json");
        List<OptimizerStep.Outcome> outcome = new ArrayList<>(1);
        OpProfile profile = Profiler.profile(trace, () -> outcome.add(OptimizerStep.run(session.manager(), runner,
                session.update(), session.weights(), batch.microBatches(), step, lr, recipe.train().clipNorm(),
                from, stopAfter, session.parallel())));
        String table = profile.table(25);
        try {
            Files.writeString(Path.of(trace.toString().replaceFirst("\\.json$", ".txt")), table);
        } catch (IOException e) {
            throw new LongctxException(runDir + ": cannot write the profile summary (" + e.getMessage() + ")");
        }
        log.accept("profile of step " + step + " (Chrome trace " + trace + "):\n" + table.stripTrailing());
        return outcome.get(0);
    }

    /** This rank's stop reason, or the other ranks' when the signal reached them only. */
    private String stopReason() {
        return stopRequest.get() != null ? stopRequest.get() : "another rank was asked to stop";
    }

    /**
     * A checkpoint of this state: rank 0 prepares the staging folder, every rank writes its own files (optimizer
     * shard, mid-step gradients), and after a barrier rank 0 writes the weights, the state and the manifest last.
     */
    private Path checkpoint(TrainingState state) {
        long begin = System.nanoTime();
        DataParallel parallel = session.parallel();
        Checkpoints checkpoints = new Checkpoints(runDir);
        Path temp = checkpoints.staging(state);
        Path saved = checkpoints.root().resolve(Checkpoints.name(state));
        try (NDManager scope = session.manager().newSubManager();
                NDManager host = NDManager.newBaseManager(ai.djl.Device.cpu())) {
            if (parallel.rank() == 0) {
                checkpoints.prepare(temp);
            }
            parallel.barrier();
            Map<String, Map<String, NDArray>> files = new LinkedHashMap<>(session.update().checkpointFiles());
            if (state.insideStep()) {
                files.put(Checkpoints.gradientsFile(parallel.rank(), parallel.size()),
                        session.update().partialGradients(session.weights(), scope));
            }
            Checkpoints.writeFiles(temp, files);
            Map<String, NDArray> weights = session.update().checkpointWeights(session.weights(),
                    session.base() != null, host);
            parallel.barrier();
            if (parallel.rank() == 0) {
                saved = checkpoints.commit(temp, new Checkpoints.Contents(weights, state, configJson,
                        recipeYaml, store.tokenizerDir(), store.identity(), session.base(), parallel.size()));
                checkpoints.prune(recipe.output().keepLast());
            }
            parallel.barrier();
        }
        slowestCheckpoint = Math.max(slowestCheckpoint, (System.nanoTime() - begin) / 1e9);
        if (folder != null) {
            folder.writePreemptionTiming(slowestMicroBatch, slowestCheckpoint);
        }
        log.accept("checkpoint: " + saved);
        return saved;
    }
}
