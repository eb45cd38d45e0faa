package io.longctx.train;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import io.longctx.LongctxException;
import io.longctx.data.PackJob;
import io.longctx.data.store.TokenStore;
import io.longctx.distributed.DataParallel;
import io.longctx.distributed.ProcessGroup;
import io.longctx.distributed.RankLog;
import io.longctx.distributed.ShardedUpdate;
import io.longctx.distributed.WorldInfo;
import io.longctx.engine.Attention;
import io.longctx.engine.PlainAttention;
import io.longctx.engine.SdpaAttention;
import io.longctx.model.HfConfigJson;
import io.longctx.model.LlamaModel;
import io.longctx.model.LlamaWeights;
import io.longctx.model.ModelConfig;
import io.longctx.lora.BaseIdentity;
import io.longctx.lora.LoraConfig;
import io.longctx.lora.LoraWeights;
import io.longctx.plan.DeviceMemory;
import io.longctx.plan.MemoryPlan;
import io.longctx.plan.MemoryPlanner;
import io.longctx.plan.PlanInput;
import io.longctx.precision.FlatShard;
import io.longctx.precision.Offload;
import io.longctx.precision.TrainingWeights;
import io.longctx.safetensors.SafetensorsFile;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * The training job: take the run folder, decide whether to resume (refusing a changed recipe) before any work, pack
 * the data (or reuse the store), load the base model or the checkpoint, then hand over to the {@link TrainingLoop}.
 * SIGTERM and SIGINT ask the loop to stop after the current micro-batch with a checkpoint.
 */
public final class Trainer {
    public static final int EXIT_DONE = 0;
    /** Stopped after too many non-finite steps in a row; a checkpoint of the last good state was written. */
    public static final int EXIT_DIVERGED = 3;
    /** Preempted (SIGTERM/SIGINT): a checkpoint was written; rerun the same command to resume. */
    public static final int EXIT_PREEMPTED = 75;

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

    /** Asks the loop to checkpoint and stop after the current micro-batch (what SIGTERM does). */
    public void requestStop(String reason) {
        stopRequest.compareAndSet(null, reason);
    }

    /**
     * What the loop trains: the model, its weights in their roles and their update, on one manager, and the ranks
     * it shares each step with.
     */
    record Session(NDManager manager, TrainingWeights weights, LlamaModel model, ParameterUpdate update,
            BaseIdentity base, DataParallel parallel, ProcessGroup group) {
    }

    /**
     * Runs the job as this process's rank: alone, or (with torchrun's or Slurm's variables) as one of several ranks
     * that first join a c10d group and agree on the recipe, after which rank 0 alone prepares the run folder and the
     * data while the others wait.
     */
    public int run(boolean restart) {
        WorldInfo world = WorldInfo.fromEnvironment();
        if (world.distributed() && recipe.train().gradAccum() % world.worldSize() != 0) {
            throw new LongctxException("train.grad_accum: " + recipe.train().gradAccum() + " micro-batches per step "
                    + "(the global batch) cannot be dealt evenly to " + world.worldSize() + " ranks; make it a "
                    + "multiple of the world size");
        }
        if (!world.distributed()) {
            return run(restart, world, null);
        }
        Device device = device(world);
        try (ProcessGroup group = ProcessGroup.join(world, recipe.run().distributed().timeoutSeconds(),
                device.isGpu() ? device.getDeviceId() : -1)) {
            requireSameRecipe(group);
            return run(restart, world, group);
        }
    }

    private int run(boolean restart, WorldInfo world, ProcessGroup group) {
        DataParallel parallel = new DataParallel(group);
        if (!world.isMain()) {
            return follow(parallel, group, world);
        }
        try (RunFolder folder = RunFolder.open(recipe.output().dir())) {
            Consumer<String> log = RankLog.of(folder.dir(), world, this.log);
            logJoined(log, world, group);
            if (restart) {
                folder.clear();
            }
            Optional<Path> resumeFrom = restart ? Optional.empty() : folder.resumePoint(recipe, log);
            folder.previousPreemptionTiming().ifPresent(log);
            folder.writeResolvedRecipe(recipe);
            if (recipe.model().isCheckpoint()
                    && Checkpoints.verify(recipe.model().path()) instanceof Checkpoints.Verdict.Unusable bad) {
                throw new LongctxException("model.path: " + recipe.model().path() + " fails verification ("
                        + bad.reason() + ")");
            }
            Device device = device(world);
            checkMemory(device, world.worldSize(), log);
            PackJob.Result packed = new PackJob(recipe.data(), log).run(false, resumeFrom.isPresent());
            TokenStore store = packed.store();
            store.verify();
            checkAgainstStore(store);
            if (resumeFrom.isPresent()) {
                requireSameData(resumeFrom.get(), store, packed);
                requireResumableWorld(resumeFrom.get(), world.worldSize(), log);
            }
            if (group != null) {
                // the followers wait here for the run folder and the store; -1: no checkpoint to resume
                group.broadcast(0, resumeFrom.map(c -> (double) Checkpoints.stepOf(c)).orElse(-1.0),
                        resumeFrom.map(c -> (double) Checkpoints.readState(c).microBatchesDone()).orElse(0.0));
            }
            return trainAndExport(folder, store, resumeFrom, device, log, parallel, group);
        }
    }

    /** A rank other than 0: waits for rank 0's run folder and store, then resumes where rank 0 decided. */
    private int follow(DataParallel parallel, ProcessGroup group, WorldInfo world) {
        double[] resume = group.broadcast(0, 0, 0);
        Path dir = recipe.output().dir();
        Consumer<String> log = RankLog.of(dir, world, this.log);
        logJoined(log, world, group);
        Optional<Path> resumeFrom = resume[0] < 0 ? Optional.empty() : Optional.of(new Checkpoints(dir).root()
                .resolve(Checkpoints.name(new TrainingState((int) resume[0], null, 0, 0, 0, (int) resume[1], 0))));
        TokenStore store = TokenStore.open(recipe.data().store());
        return trainAndExport(null, store, resumeFrom, device(world), log, parallel, group);
    }

    private int trainAndExport(RunFolder folder, TokenStore store, Optional<Path> resumeFrom, Device device,
            Consumer<String> log, DataParallel parallel, ProcessGroup group) {
        installSignalHandlers();
        int code;
        try (NDManager manager = NDManager.newBaseManager(device);
                AttentionHolder attention = new AttentionHolder(recipe.run().attention())) {
            code = train(folder, store, resumeFrom, manager, attention.get(), log, parallel, group);
        }
        if (code == EXIT_DONE && parallel.rank() == 0) {
            exportFinal(log);
        }
        return code;
    }

    private void logJoined(Consumer<String> log, WorldInfo world, ProcessGroup group) {
        if (group != null) {
            log.accept(String.format(Locale.ROOT, "rank %d of %d joined (pid %d, %s)", world.rank(),
                    world.worldSize(), ProcessHandle.current().pid(), device(world)));
        }
    }

    /** Every rank must run the same resolved recipe: a mismatch is found before anything is written. */
    private void requireSameRecipe(ProcessGroup group) {
        String hash = io.longctx.Hashing.sha256(ResolvedRecipe.yaml(recipe).getBytes(java.nio.charset.StandardCharsets.UTF_8));
        double mine = (double) Long.parseLong(hash.substring(0, 12), 16);     // 48 bits: exact in a double
        double main = group.broadcast(0, mine)[0];
        if (group.any(main != mine)) {
            throw new LongctxException("rank " + group.rank() + ": " + (main != mine ? "the resolved recipe differs "
                    + "from rank 0's (" + recipe.file() + ", sha256 " + hash.substring(0, 12) + "...); every rank must "
                    + "run the same recipe and overrides" : "another rank's recipe differs from rank 0's"));
        }
    }

    /** A checkpoint taken inside a step holds one partial gradient per rank: it resumes on that world size only. */
    private void requireResumableWorld(Path checkpoint, int world, Consumer<String> log) {
        int saved = Checkpoints.worldSize(checkpoint);
        if (saved == world) {
            return;
        }
        if (Checkpoints.readState(checkpoint).insideStep()) {
            throw new LongctxException(checkpoint + " was written inside a step by " + saved + " rank(s), each "
                    + "with its own partial gradient: resume it with " + saved + " rank(s) (or from the previous "
                    + "step-boundary checkpoint after deleting this one)");
        }
        log.accept("resuming a checkpoint of " + saved + " rank(s) with " + world + ": the data order and global "
                + "batch are the same; reductions run in another order, so results match within rounding, not bit "
                + "for bit");
    }

    private int train(RunFolder folder, TokenStore store, Optional<Path> resumeFrom, NDManager manager,
            Attention attention, Consumer<String> log, DataParallel parallel, ProcessGroup group) {
        ModelConfig architecture = recipe.architecture();
        RunConfig run = recipe.run();
        TrainConfig t = recipe.train();
        LoraConfig lora = recipe.lora();
        BaseIdentity base = null;
        if (lora != null) {
            log.accept("hashing the base model's weight files (a LoRA checkpoint names its base by SHA-256)");
            base = BaseIdentity.of(recipe.model().path());
            if (resumeFrom.isPresent()) {
                Checkpoints.base(resumeFrom.get()).requireSame(base, resumeFrom.get(), "model.path");
            }
        }
        TrainingWeights weights;
        // weights are read into host memory and placed on the device tensor by tensor in their roles
        try (NDManager host = NDManager.newBaseManager(ai.djl.Device.cpu())) {
            LlamaWeights loaded;
            Set<String> trainable = new LinkedHashSet<>();
            if (lora == null) {
                loaded = loadWeights(architecture, resumeFrom.orElse(null), host);
                trainable.addAll(Parameters.select(loaded, t.trainable()).keySet());
            } else {
                loaded = LoraWeights.load(recipe.model().path(), architecture, lora, t.seed(),
                        resumeFrom.map(c -> c.resolve(Checkpoints.ADAPTER)).orElse(null), host);
                trainable.addAll(lora.adapterShapes(architecture).keySet());
                if (!lora.extraTrainable().isEmpty()) {
                    trainable.addAll(Parameters.select(loaded, lora.extraTrainable()).keySet());
                }
            }
            FlatShard shard = null;
            if (group != null && run.shardOptimizer()) {
                long total = 0;
                for (String name : trainable) {
                    total += loaded.tensors().get(name).size();
                }
                shard = ShardedUpdate.shardOf(total, group);
            }
            weights = TrainingWeights.place(loaded, trainable, run.precision(), run.offload(), manager, shard);
        }
        try (TrainingWeights owned = weights; ParameterUpdate update = update(weights, group)) {
            TrainingState state = TrainingState.start(t.seed());
            if (resumeFrom.isPresent()) {
                Path checkpoint = resumeFrom.get();
                update.load(checkpoint, log);
                state = Checkpoints.readState(checkpoint);
                if (state.insideStep()) {
                    String name = Checkpoints.gradientsFile(parallel.rank(), parallel.size());
                    try (SafetensorsFile gradients = ParameterUpdate.open(checkpoint, name)) {
                        update.restorePartialGradients(weights, gradients);
                    }
                }
                log.accept("resuming from " + checkpoint + " at step " + state.step() + (state.insideStep()
                        ? " after micro-batch " + state.microBatchesDone() + " of step " + (state.step() + 1) : ""));
            } else {
                log.accept("starting " + (recipe.model().isRandom() ? "from random initialisation"
                        : "from " + recipe.model().path()));
            }
            log.accept(String.format(Locale.ROOT, "model: %s, %,d parameters (%,d trainable); rope %s x%s; "
                    + "seq_len %d; activation checkpointing %s; attention %s; precision %s; optimizer state on %s",
                    architecture.modelType(), Parameters.count(weights.compute().tensors()),
                    Parameters.count(weights.trainable()),
                    architecture.ropeScaling().ropeType(), architecture.ropeScaling().factor(), store.seqLen(),
                    run.checkpointingLabel(), run.attention(),
                    run.precision().recipeName(), run.offload() == Offload.HOST ? "host" : "device"));
            if (group != null) {
                log.accept(String.format(Locale.ROOT, "ranks: %d (this is rank %d), %d of the step's %d "
                        + "micro-batches each; optimizer state %s", parallel.size(), parallel.rank(),
                        t.gradAccum() / parallel.size(), t.gradAccum(), run.shardOptimizer()
                                ? "sharded (1/" + parallel.size() + " per rank)" : "replicated"));
            }
            if (Memory.allocator().equals("glibc") && !manager.getDevice().isGpu()) {
                log.accept("allocator: glibc malloc keeps freed tensor memory resident; install tcmalloc "
                        + "(apt-get install libtcmalloc-minimal4) and scripts/longctx preloads it");
            }
            Session session = new Session(manager, weights, new LlamaModel(weights.compute(), attention), update,
                    base, parallel, group);
            return new TrainingLoop(recipe, log, session, folder, store,
                    HfConfigJson.build(architecture, recipe.model().baseConfigJson()), stopRequest, profileStep,
                    state.step()).run(state);
        }
    }

    /**
     * The recipe's output.export formats, from the final checkpoint, under the run folder's export/, in the run's
     * precision (bf16 runs export bf16, fp32 runs fp32).
     */
    private void exportFinal(Consumer<String> log) {
        if (recipe.output().export().isEmpty()) {
            return;
        }
        Path checkpoint = Exporter.resolveCheckpoint(recipe.output().dir(), log);
        io.longctx.safetensors.DType dtype = recipe.run().precision() == io.longctx.engine.Precision.BF16
                ? io.longctx.safetensors.DType.BF16 : io.longctx.safetensors.DType.F32;
        for (OutputConfig.ExportFormat format : recipe.output().export()) {
            Path out = recipe.output().exportPath(format);
            if (format == OutputConfig.ExportFormat.HF) {
                Exporter.export(checkpoint, out, 4L << 30, dtype,
                        Exporter.baseModelDir(checkpoint).orElse(null), HfConfigJson.Format.V4);
            } else {
                Exporter.exportGguf(checkpoint, out, dtype);
            }
            log.accept("exported " + checkpoint.getFileName() + " as " + format.recipeName() + " to " + out);
        }
    }

    /** The planner's verdict before any work: a run that cannot fit the device found is refused here. */
    private void checkMemory(Device device, int ranks, Consumer<String> log) {
        MemoryPlan plan = MemoryPlanner.plan(PlanInput.of(recipe, ranks), DeviceMemory.of(device));
        log.accept(String.format(Locale.ROOT, "memory plan: peak %s per device of %s%s (scripts/longctx plan "
                + "shows the parts)", MemoryPlan.gib(plan.devicePeak()), MemoryPlan.gib(plan.deviceMemory()),
                device.isGpu() ? ", " + MemoryPlan.gib(plan.hostPeak()) + " on the host" : ""));
        if (!plan.fits()) {
            throw new LongctxException(recipe.file() + ": will not fit the " + (device.isGpu() ? "GPU" : "machine")
                    + ": " + String.join("; ", plan.advice()));
        }
    }

    /** What only the packed store can tell: its vocabulary and how many sequences a micro-batch may ask for. */
    private void checkAgainstStore(TokenStore store) {
        int storeVocab = store.manifest().path("vocab_size").asInt();
        if (storeVocab > recipe.architecture().vocabSize()) {
            throw new LongctxException("the tokenizer has " + storeVocab + " tokens but the model's vocab_size is "
                    + recipe.architecture().vocabSize());
        }
        long sequences = store.split("train").size();
        if (recipe.train().microBatch() > sequences) {
            throw new LongctxException("train.micro_batch: " + recipe.train().microBatch() + " sequences per "
                    + "micro-batch, but the store holds only " + sequences + " training sequences of "
                    + store.seqLen() + " tokens");
        }
    }

    /** A data position only means something in the store it was taken in: a rebuilt store ends the resume. */
    private void requireSameData(Path checkpoint, TokenStore store, PackJob.Result packed) {
        String recorded = Checkpoints.storeIdentity(checkpoint);
        if (!recorded.isEmpty() && !recorded.equals(store.identity())) {
            throw new LongctxException(store.dir() + ": the packed data changed since " + checkpoint + " was written"
                    + (packed.reused() ? "" : " (the store was rebuilt: " + packed.reason() + ")") + ", so its data "
                    + "position no longer applies; start over with --restart, or start a new run from these weights "
                    + "(model.path: " + checkpoint + ")");
        }
    }

    /** The CPU, or the CUDA device of this rank's local rank. */
    private Device device(WorldInfo world) {
        if (recipe.run().device() == RunConfig.Device.CPU) {
            return Device.cpu();
        }
        int gpus = Engine.getInstance().getGpuCount();
        if (gpus == 0) {
            throw new LongctxException("device: gpu, but the engine finds no CUDA device (on a GPU machine DJL needs "
                    + "a CUDA libtorch: see the README)");
        }
        if (world.localRank() >= gpus) {
            throw new LongctxException("rank " + world.rank() + ": local rank " + world.localRank() + " needs CUDA "
                    + "device " + world.localRank() + ", but this node has " + gpus + " (start one rank per GPU)");
        }
        return Device.gpu(world.localRank());
    }

    /** Replicated AdamW (one process, or optimizer.shard off), or AdamW sharded across the ranks. */
    private ParameterUpdate update(TrainingWeights weights, ProcessGroup group) {
        TrainConfig t = recipe.train();
        if (group != null && recipe.run().shardOptimizer()) {
            return new ShardedUpdate(weights, group, t, recipe.run().distributed().bucketBytes());
        }
        return new ReplicatedUpdate(new AdamW(weights.masterManager(), weights.masters(), t.beta1(), t.beta2(),
                t.eps(), t.weightDecay()), group, recipe.run().distributed().bucketBytes());
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

    private void installSignalHandlers() {
        for (String name : List.of("TERM", "INT")) {
            // the JVM's own handlers would exit at once; these let the current micro-batch finish and checkpoint
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(name),
                        signal -> requestStop("received SIG" + signal.getName()));
            } catch (IllegalArgumentException e) {
                // the signal is not available on this platform or is reserved by the JVM
            }
        }
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
}
