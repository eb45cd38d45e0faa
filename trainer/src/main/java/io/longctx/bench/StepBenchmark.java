package io.longctx.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.longctx.data.pack.PackedSequence;
import io.longctx.engine.Attention;
import io.longctx.engine.PlainAttention;
import io.longctx.engine.Precision;
import io.longctx.engine.SdpaAttention;
import io.longctx.model.LlamaModel;
import io.longctx.model.LlamaWeights;
import io.longctx.model.ModelConfig;
import io.longctx.lora.LoraAdapters;
import io.longctx.lora.LoraConfig;
import io.longctx.plan.MemoryPlanner;
import io.longctx.plan.PlanInput;
import io.longctx.precision.Offload;
import io.longctx.precision.TrainingWeights;
import io.longctx.profile.OpProfile;
import io.longctx.profile.Profiler;
import io.longctx.train.AdamW;
import io.longctx.train.Memory;
import io.longctx.train.OptimizerStep;
import io.longctx.train.Parameters;
import io.longctx.train.StepRunner;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.LinkedHashSet;
import java.util.Random;
import java.util.Set;

/**
 * Full training steps (forward, backward, clipping, AdamW) of a reference model at one length, exactly as the trainer
 * runs them; reports the median step time after warm-up, peak resident memory, and the live NDArray handles and JVM
 * heap before and after (both must stay flat).
 */
public final class StepBenchmark {
    /** The adapters a LoRA measurement trains: the recipe defaults. */
    static final LoraConfig LORA = new LoraConfig(8, 16, LoraConfig.DEFAULT_TARGETS, LoraConfig.DEFAULT_EXTRA);

    private StepBenchmark() {
    }

    /** The checkpointing setting as bench names it: off, on, keepN, selective or selective-keepN. */
    public static String policy(int checkpointLayers, int keepLast, boolean saveAttention) {
        if (checkpointLayers == 0) {
            return "off";
        }
        String keep = keepLast > 0 ? "keep" + keepLast : "";
        return saveAttention ? (keep.isEmpty() ? "selective" : "selective-" + keep) : keep.isEmpty() ? "on" : keep;
    }

    /**
     * @param profileTrace where to write a libtorch profiler trace of one more step after the timed ones (Chrome trace
     *     format), or null for none; its summary goes into the result under "profile"
     */
    public static Map<String, Object> run(String configName, int length, int checkpointLayers, String attentionName,
            int warmup, int steps, Device device, Path profileTrace) {
        return run(configName, length, checkpointLayers, 0, false, attentionName, 0, Precision.FP32, Offload.NONE,
                false, warmup, steps, device, profileTrace);
    }

    /**
     * @param documentTokens 0 for concat packing (one causal sequence), else document-aware packing with documents
     *     of this many tokens (positions restart and attention stops at each boundary)
     * @param keepLast under checkpointing, the last layers that keep their activations instead of being recomputed
     * @param saveAttention selective checkpointing (attention outputs kept, the rest of each layer recomputed)
     */
    public static Map<String, Object> run(String configName, int length, int checkpointLayers, int keepLast,
            boolean saveAttention, String attentionName,
            int documentTokens, Precision precision, Offload offload, boolean lora, int warmup, int steps,
            Device device, Path profileTrace) {
        ModelConfig config = BenchModels.config(configName, length);
        Attention attention = attentionName.equals("plain") ? new PlainAttention() : SdpaAttention.create();
        try (NDManager manager = NDManager.newBaseManager(device)) {
            TrainingWeights trainable;
            try (NDManager host = NDManager.newBaseManager(Device.cpu())) {
                LlamaWeights initial = Parameters.randomInit(config, 0.02, 1, host);
                Set<String> names = new LinkedHashSet<>(initial.tensors().keySet());
                if (lora) {
                    initial = initial.withAdapters(LoraAdapters.init(config, LORA, 1, host), LORA.scale());
                    names = new LinkedHashSet<>(LORA.adapterShapes(config).keySet());
                    names.addAll(Parameters.matching(initial.tensors().keySet(), LORA.extraTrainable()));
                }
                trainable = TrainingWeights.place(initial, names, precision, offload, manager);
            }
            try (TrainingWeights weights = trainable; AdamW optimizer = new AdamW(weights.masterManager(),
                    weights.masters(), 0.9, 0.95, 1e-8, 0.0)) {
                StepRunner runner = new StepRunner(new LlamaModel(weights.compute(), attention), checkpointLayers,
                        keepLast, saveAttention, documentTokens > 0);
                Random random = new Random(7);
                double[] times = new double[steps];
                int handlesBefore = 0;
                long heapBefore = 0;
                long rssBefore = 0;
                for (int i = 0; i < warmup + steps; i++) {
                    if (i == warmup) {
                        handlesBefore = manager.getManagedArrays().size();
                        heapBefore = heapAfterGc();
                        rssBefore = Memory.residentMiB();
                    }
                    List<List<PackedSequence>> batch = List.of(List.of(randomSequence(random, config, length, documentTokens)));
                    long start = System.nanoTime();
                    OptimizerStep.run(manager, runner, optimizer, trainable, batch, i + 1, 1e-4, 1.0);
                    if (i >= warmup) {
                        times[i - warmup] = (System.nanoTime() - start) / 1e9;
                    }
                }
                long rssAfter = Memory.residentMiB();
                long peakRss = Memory.peakResidentMiB();    // before the profiled step, whose recording adds some
                Map<String, Object> profile = null;
                if (profileTrace != null) {
                    List<List<PackedSequence>> batch = List.of(List.of(randomSequence(random, config, length, documentTokens)));
                    OpProfile ops = Profiler.profile(profileTrace, () -> OptimizerStep.run(manager, runner,
                            optimizer, trainable, batch, warmup + steps + 1, 1e-4, 1.0));
                    profile = ops.summary(25);
                    profile.put("trace", profileTrace.toString());
                    System.err.printf(Locale.ROOT, "profile of one step, L=%d, checkpointing %s, trace %s:%n%s",
                            length, policy(checkpointLayers, keepLast, saveAttention), profileTrace,
                            ops.table(25));
                }
                double median = Timings.median(times);
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("config", configName);
                result.put("length", length);
                result.put("checkpointing", checkpointLayers > 0);
                result.put("keep_last", keepLast);
                result.put("policy", policy(checkpointLayers, keepLast, saveAttention));
                result.put("attention", attentionName);
                result.put("precision", precision.recipeName());
                result.put("offload", offload.recipeName());
                result.put("lora", lora);
                PlanInput plan = new PlanInput(config, length, 1, checkpointLayers, precision, offload,
                        lora ? LORA : null, List.of("*"), attentionName.equals("plain"), device.isGpu(), 1, 0)
                        .keepingLast(keepLast);
                if (saveAttention) {
                    plan = plan.selective();
                }
                result.put("predicted_peak_mib", MemoryPlanner.plan(plan, Long.MAX_VALUE).devicePeak() >> 20);
                result.put("step_s", median);
                result.put("step_times_s", times);
                result.put("tokens_per_s", length / median);
                result.put("achieved_gflops", BenchModels.stepFlops(config, length, length) / median / 1e9);
                result.put("peak_rss_mib", peakRss);
                result.put("handles_before", handlesBefore);
                result.put("handles_after", manager.getManagedArrays().size());
                result.put("heap_before_mib", heapBefore);
                result.put("heap_after_mib", heapAfterGc());
                result.put("rss_before_mib", rssBefore);
                result.put("rss_after_mib", rssAfter);
                result.put("allocator", Memory.allocator());
                if (profile != null) {
                    result.put("profile", profile);
                }
                return result;
            }
        } finally {
            if (attention instanceof SdpaAttention sdpa) {
                sdpa.close();
            }
        }
    }

    static PackedSequence randomSequence(Random random, ModelConfig config, int length, int documentTokens) {
        int[] tokens = new int[length];
        for (int t = 0; t < length; t++) {
            tokens[t] = random.nextInt(config.vocabSize());
        }
        int every = documentTokens > 0 ? documentTokens : length;
        int[] starts = new int[(length + every - 1) / every];
        for (int i = 0; i < starts.length; i++) {
            starts[i] = i * every;
        }
        return new PackedSequence(tokens, length, starts);
    }

    static long heapAfterGc() {
        Runtime runtime = Runtime.getRuntime();
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return (runtime.totalMemory() - runtime.freeMemory()) >> 20;
    }

    /** Attention alone, forward and backward, fused against plain; (seconds fused, seconds plain or NaN). */
    public static Map<String, Object> attention(int length, int heads, int headDim, boolean includePlain,
            Device device) {
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("length", length);
        try (NDManager manager = NDManager.newBaseManager(device); SdpaAttention sdpa = SdpaAttention.create()) {
            result.put("sdpa_s", timeAttention(manager, sdpa, length, heads, headDim));
            result.put("plain_s", includePlain ? timeAttention(manager, new PlainAttention(), length, heads, headDim)
                    : null);
        }
        result.put("peak_rss_mib", Memory.peakResidentMiB());
        return result;
    }

    private static double timeAttention(NDManager parent, Attention attention, int length, int heads, int hd) {
        List<Double> times = new ArrayList<>();
        for (int r = 0; r < 3; r++) {
            try (NDManager scope = parent.newSubManager()) {
                NDArray q = scope.randomNormal(new ai.djl.ndarray.types.Shape(1, heads, length, hd));
                NDArray k = scope.randomNormal(new ai.djl.ndarray.types.Shape(1, heads, length, hd));
                NDArray v = scope.randomNormal(new ai.djl.ndarray.types.Shape(1, heads, length, hd));
                q.setRequiresGradient(true);
                boolean grad = ai.djl.pytorch.jni.JniUtils.isGradMode();
                ai.djl.pytorch.jni.JniUtils.setGradMode(true);
                long start = System.nanoTime();
                NDArray out = attention.attend(q, k, v, true);
                ai.djl.pytorch.jni.JniUtils.backward((ai.djl.pytorch.engine.PtNDArray) out,
                        (ai.djl.pytorch.engine.PtNDArray) out.onesLike(), false, false);
                q.getGradient().getFloat(0, 0, 0, 0);
                times.add((System.nanoTime() - start) / 1e9);
                ai.djl.pytorch.jni.JniUtils.setGradMode(grad);
            }
        }
        return times.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
    }
}
