package io.longctx.train;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.LongctxException;
import io.longctx.Progress;
import io.longctx.data.PackJob;
import io.longctx.data.pack.PackedSequence;
import io.longctx.data.sample.SequenceSampler;
import io.longctx.data.store.TokenStore;
import io.longctx.engine.Attention;
import io.longctx.engine.PlainAttention;
import io.longctx.engine.SdpaAttention;
import io.longctx.eval.TokenScorer;
import io.longctx.model.HfConfigJson;
import io.longctx.model.LlamaModel;
import io.longctx.model.LlamaWeights;
import io.longctx.model.ModelConfig;
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
 * The training job, top to bottom: pack the data (or reuse the store), load the base model or resume from the newest
 * valid checkpoint, then run the optimizer steps — micro-batches with gradient accumulation, global-norm clipping,
 * AdamW on the schedule — writing metrics every step, checkpoints every N steps and at the end, and a checkpoint
 * before exiting when the scheduler sends SIGTERM or SIGINT.
 */
public final class Trainer {
    public static final int EXIT_DONE = 0;
    /** Stopped after too many non-finite steps in a row; a checkpoint of the last good state was written. */
    public static final int EXIT_DIVERGED = 3;
    /** Preempted (SIGTERM/SIGINT): a checkpoint was written; rerun the same command to resume. */
    public static final int EXIT_PREEMPTED = 75;

    private static final List<String> STEP_COLUMNS = List.of("step", "loss", "lr", "grad_norm", "clip_scale",
            "tokens", "tokens_per_s", "step_s", "elapsed_s", "rss_mib", "skipped");

    private final Recipe recipe;
    private final Consumer<String> log;
    private final int profileStep;
    private final AtomicReference<String> stopRequest = new AtomicReference<>();

    public Trainer(Recipe recipe, Consumer<String> log) {
        this(recipe, log, 0);
    }

    /**
     * @param profileStep the optimizer step to run under libtorch's profiler (trace and per-operator summary in the
     *     run folder), or 0 for none
     */
    public Trainer(Recipe recipe, Consumer<String> log, int profileStep) {
        this.recipe = recipe;
        this.log = log;
        this.profileStep = profileStep;
    }

    /** Asks the loop to checkpoint and stop after the current step (what SIGTERM does). */
    public void requestStop(String reason) {
        stopRequest.compareAndSet(null, reason);
    }

    public int run(boolean restart) {
        Path runDir = recipe.run().outputDir();
        Checkpoints checkpoints = new Checkpoints(runDir);
        try {
            Files.createDirectories(runDir);
            if (restart) {
                Checkpoints.deleteTree(checkpoints.root());
                for (String name : List.of("metrics.csv", "metrics.jsonl", "eval.csv", "eval.jsonl")) {
                    Files.deleteIfExists(runDir.resolve(name));
                }
            }
            Files.writeString(runDir.resolve("recipe.resolved.yaml"), ResolvedRecipe.yaml(recipe));
        } catch (IOException e) {
            throw new LongctxException(runDir + ": cannot prepare the run folder (" + e.getMessage() + ")");
        }
        TokenStore store = new PackJob(recipe.data(), log).run(false).store();
        store.verify();
        ModelConfig architecture = recipe.architecture();
        int storeVocab = store.manifest().path("vocab_size").asInt();
        if (storeVocab > architecture.vocabSize()) {
            throw new LongctxException("the tokenizer has " + storeVocab + " tokens but the model's vocab_size is "
                    + architecture.vocabSize());
        }
        Path resumeFrom = restart ? null : checkpoints.newestValid(log);
        try (NDManager manager = NDManager.newBaseManager(device());
                AttentionHolder attention = new AttentionHolder(recipe.run().attention())) {
            LlamaWeights weights = loadWeights(architecture, resumeFrom, manager);
            Map<String, NDArray> trainable = Parameters.select(weights, recipe.train().trainable());
            trainable.values().forEach(p -> p.setRequiresGradient(true));
            TrainConfig t = recipe.train();
            try (AdamW optimizer = new AdamW(manager, trainable, t.beta1(), t.beta2(), t.eps(), t.weightDecay())) {
                TrainingState state = new TrainingState(0, new SequenceSampler.Cursor(t.seed(), 0, 0), 0, 0,
                        Double.NaN);
                if (resumeFrom != null) {
                    optimizer.load(Checkpoints.readTensors(resumeFrom.resolve("optimizer.safetensors")));
                    state = Checkpoints.readState(resumeFrom);
                    log.accept("resuming from " + resumeFrom + " at step " + state.step());
                } else {
                    log.accept("starting " + (recipe.model().isRandom() ? "from random initialisation"
                            : "from " + recipe.model().path()));
                }
                log.accept(String.format(Locale.ROOT, "model: %s, %,d parameters (%,d trainable); rope %s x%s; "
                        + "seq_len %d; activation checkpointing %s; attention %s", architecture.modelType(),
                        Parameters.count(weights.tensors()), Parameters.count(trainable),
                        architecture.ropeScaling().ropeType(), architecture.ropeScaling().factor(), store.seqLen(),
                        recipe.run().checkpointLayers() == 0 ? "off"
                                : "every " + recipe.run().checkpointLayers() + " layer(s)",
                        recipe.run().attention()));
                if (Memory.allocator().equals("glibc") && !manager.getDevice().isGpu()) {
                    log.accept("allocator: glibc malloc keeps freed tensor memory resident; install tcmalloc "
                            + "(apt-get install libtcmalloc-minimal4) and scripts/longctx preloads it");
                }
                LlamaModel model = new LlamaModel(weights, attention.get());
                Loop loop = new Loop(model, weights, trainable, optimizer, store, checkpoints, runDir, manager);
                return loop.run(state);
            }
        }
    }

    private Device device() {
        if (recipe.run().device() == RunConfig.Device.CPU) {
            return Device.cpu();
        }
        if (Engine.getInstance().getGpuCount() == 0) {
            throw new LongctxException("device: gpu, but the engine finds no CUDA device (on a GPU machine DJL needs "
                    + "a CUDA libtorch: see the README)");
        }
        return Device.gpu();
    }

    private LlamaWeights loadWeights(ModelConfig architecture, Path resumeFrom, NDManager manager) {
        if (resumeFrom != null) {
            return LlamaWeights.load(resumeFrom, architecture, manager);
        }
        if (recipe.model().isRandom()) {
            return Parameters.randomInit(architecture, recipe.model().initStd(), recipe.train().seed(), manager);
        }
        return LlamaWeights.load(recipe.model().path(), architecture, manager);
    }

    /** The attention implementation, closed with the run. */
    private static final class AttentionHolder implements AutoCloseable {
        private final Attention attention;

        AttentionHolder(String name) {
            attention = name.equals("plain") ? new PlainAttention() : SdpaAttention.create();
        }

        Attention get() {
            return attention;
        }

        @Override
        public void close() {
            if (attention instanceof SdpaAttention sdpa) {
                sdpa.close();
            }
        }
    }

    /** The step loop and what it writes. */
    private final class Loop {
        private final LlamaModel model;
        private final LlamaWeights weights;
        private final Map<String, NDArray> trainable;
        private final AdamW optimizer;
        private final TokenStore store;
        private final Checkpoints checkpoints;
        private final Path runDir;
        private final NDManager manager;
        private final StepRunner runner;
        private final LrSchedule schedule;
        private final JsonNode configJson;
        private final String recipeYaml;

        Loop(LlamaModel model, LlamaWeights weights, Map<String, NDArray> trainable, AdamW optimizer,
                TokenStore store, Checkpoints checkpoints, Path runDir, NDManager manager) {
            this.model = model;
            this.weights = weights;
            this.trainable = trainable;
            this.optimizer = optimizer;
            this.store = store;
            this.checkpoints = checkpoints;
            this.runDir = runDir;
            this.manager = manager;
            this.runner = new StepRunner(model, recipe.run().checkpointLayers(),
                    recipe.data().packing().documentAware());
            this.schedule = LrSchedule.of(recipe.train());
            this.configJson = HfConfigJson.build(model.config(), baseConfigJson());
            this.recipeYaml = ResolvedRecipe.yaml(recipe);
        }

        private JsonNode baseConfigJson() {
            if (recipe.model().isRandom()) {
                return null;
            }
            try {
                return new ObjectMapper().readTree(recipe.model().path().resolve("config.json").toFile());
            } catch (IOException e) {
                return null;
            }
        }

        int run(TrainingState start) {
            TrainConfig t = recipe.train();
            RunConfig r = recipe.run();
            MetricsLog metrics = new MetricsLog(runDir, "metrics", STEP_COLUMNS, start.step());
            MetricsLog evalLog = new MetricsLog(runDir, "eval", evalColumns(), start.step());
            TrainingState state = start;
            if (state.step() >= t.steps()) {
                log.accept("nothing to do: the newest checkpoint is at step " + state.step() + " of " + t.steps());
                return EXIT_DONE;
            }
            long startNanos = System.nanoTime();
            long tokensThisSession = 0;
            installSignalHandlers();
            try (BatchLoader loader = new BatchLoader(store.split("train"), state.sampler(), t.microBatch(),
                    t.gradAccum(), t.steps() - state.step())) {
                for (int step = state.step() + 1; step <= t.steps(); step++) {
                    long stepStart = System.nanoTime();
                    BatchLoader.StepBatch batch = loader.next();
                    double lr = schedule.at(step);
                    OptimizerStep.Outcome outcome = step == profileStep ? profiled(step, batch, lr)
                            : OptimizerStep.run(manager, runner, optimizer, trainable, batch.microBatches(), step,
                                    lr, t.clipNorm());
                    long stepTokens = outcome.tokens();
                    double loss = outcome.loss();
                    double norm = outcome.gradNorm();
                    double clip = outcome.clipScale();
                    boolean finite = outcome.finite();
                    int bad = finite ? 0 : state.badSteps() + 1;
                    if (!finite) {
                        log.accept(String.format(Locale.ROOT, "step %d: loss %s, gradient norm %s: step skipped "
                                + "(%d in a row, limit %d)", step, loss, norm, bad, t.maxBadSteps()));
                    }
                    tokensThisSession += stepTokens;
                    state = new TrainingState(step, batch.cursorAfter(), state.tokensSeen() + stepTokens, bad,
                            finite ? loss : state.lastLoss());
                    double stepSeconds = (System.nanoTime() - stepStart) / 1e9;
                    double elapsed = (System.nanoTime() - startNanos) / 1e9;
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("step", step);
                    row.put("loss", finite ? loss : null);
                    row.put("lr", lr);
                    row.put("grad_norm", Double.isFinite(norm) ? norm : null);
                    row.put("clip_scale", clip);
                    row.put("tokens", state.tokensSeen());
                    row.put("tokens_per_s", stepTokens / stepSeconds);
                    row.put("step_s", stepSeconds);
                    row.put("elapsed_s", elapsed);
                    row.put("rss_mib", Memory.residentMiB());
                    row.put("skipped", finite ? 0 : 1);
                    metrics.append(row);
                    int done = step - start.step();
                    double eta = elapsed / done * (t.steps() - step);
                    log.accept(String.format(Locale.ROOT, "step %d/%d loss %.4f lr %.3g gnorm %.3f tok/s %,.0f "
                            + "elapsed %s ETA %s rss %d MiB", step, t.steps(), loss, lr, norm,
                            tokensThisSession / elapsed, Progress.formatDuration(elapsed),
                            Progress.formatDuration(eta), Memory.residentMiB()));
                    if (bad >= t.maxBadSteps()) {
                        Path saved = checkpoint(state);
                        log.accept("stopping: " + bad + " non-finite steps in a row at step " + step + "; the last "
                                + "good weights are in " + saved + " (lower train.lr or raise train.clip_norm)");
                        return EXIT_DIVERGED;
                    }
                    if (r.evalEvery() > 0 && step % r.evalEvery() == 0) {
                        evaluate(step, evalLog);
                    }
                    boolean last = step == t.steps();
                    if (last || step % r.checkpointEvery() == 0) {
                        checkpoint(state);
                    }
                    String stop = stopRequest.get();
                    if (stop != null && !last) {
                        if (step % r.checkpointEvery() != 0) {
                            checkpoint(state);
                        }
                        log.accept(stop + ": checkpoint written at step " + step + "; rerun the same command to "
                                + "resume (exit code " + EXIT_PREEMPTED + ")");
                        return EXIT_PREEMPTED;
                    }
                }
            }
            log.accept(String.format(Locale.ROOT, "done: %d steps, final loss %.4f, peak rss %d MiB; checkpoints in "
                    + "%s", t.steps(), state.lastLoss(), Memory.peakResidentMiB(), checkpoints.root()));
            return EXIT_DONE;
        }

        /** The step under the profiler: a Chrome trace and a self-time table in the run folder, the table logged. */
        private OptimizerStep.Outcome profiled(int step, BatchLoader.StepBatch batch, double lr) {
            Path trace = runDir.resolve("profile-step-" + step + ".json");
            List<OptimizerStep.Outcome> outcome = new ArrayList<>(1);
            OpProfile profile = Profiler.profile(trace, () -> outcome.add(OptimizerStep.run(manager, runner,
                    optimizer, trainable, batch.microBatches(), step, lr, recipe.train().clipNorm())));
            String table = profile.table(25);
            try {
                Files.writeString(runDir.resolve("profile-step-" + step + ".txt"), table);
            } catch (IOException e) {
                throw new LongctxException(runDir + ": cannot write the profile summary (" + e.getMessage() + ")");
            }
            log.accept("profile of step " + step + " (Chrome trace " + trace + "):\n" + table.stripTrailing());
            return outcome.get(0);
        }

        private Path checkpoint(TrainingState state) {
            Path saved = checkpoints.write(new Checkpoints.Contents(weights.tensors(), optimizer.state(), state,
                    configJson, recipeYaml, store.tokenizerDir()));
            checkpoints.prune(recipe.run().keepLast());
            log.accept("checkpoint: " + saved);
            return saved;
        }

        private List<String> evalColumns() {
            List<String> columns = new ArrayList<>(List.of("step", "val_loss", "val_ppl"));
            for (int length : recipe.run().evalLengths()) {
                columns.add("ppl_" + length);
            }
            return columns;
        }

        /** Validation loss on the first sequences of the validation split, and perplexity of their prefixes. */
        private void evaluate(int step, MetricsLog evalLog) {
            if (!store.hasSplit("validation")) {
                log.accept("eval: no validation sequences (data.validation_fraction is 0 or too small)");
                return;
            }
            TokenStore.Split validation = store.split("validation");
            int n = (int) Math.min(recipe.run().evalBatches(), validation.size());
            List<PackedSequence> sequences = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                sequences.add(validation.sequence(i));
            }
            double nll = 0;
            for (PackedSequence s : sequences) {
                nll += runner.loss(manager, List.of(s));
            }
            double valLoss = nll / Math.max(1, StepRunner.lossTokens(sequences));
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("step", step);
            row.put("val_loss", valLoss);
            row.put("val_ppl", Math.exp(valLoss));
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "eval step %d: val_loss %.4f ppl %.3f",
                    step, valLoss, Math.exp(valLoss)));
            boolean grad = ai.djl.pytorch.jni.JniUtils.isGradMode();
            ai.djl.pytorch.jni.JniUtils.setGradMode(false);
            try {
                TokenScorer scorer = new TokenScorer(model, manager);
                for (int length : recipe.run().evalLengths()) {
                    double sum = 0;
                    long count = 0;
                    for (PackedSequence s : sequences) {
                        int used = Math.min(length, s.used());
                        double[] values = scorer.nll(java.util.Arrays.copyOf(s.tokens(), used));
                        for (double v : values) {
                            sum += v;
                        }
                        count += values.length;
                    }
                    double ppl = Math.exp(sum / Math.max(1, count));
                    row.put("ppl_" + length, ppl);
                    line.append(String.format(Locale.ROOT, " ppl@%d %.3f", length, ppl));
                }
            } finally {
                ai.djl.pytorch.jni.JniUtils.setGradMode(grad);
            }
            evalLog.append(row);
            log.accept(line.toString());
        }

        private void installSignalHandlers() {
            for (String name : List.of("TERM", "INT")) {
                // the JVM's own handlers would exit at once; these let the current step finish and checkpoint
                try {
                    sun.misc.Signal.handle(new sun.misc.Signal(name),
                            signal -> requestStop("received SIG" + signal.getName()));
                } catch (IllegalArgumentException e) {
                    // the signal is not available on this platform or is reserved by the JVM
                }
            }
        }
    }
}
