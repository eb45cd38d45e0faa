package io.longctx.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.longctx.data.pack.PackedSequence;
import io.longctx.distributed.DataParallel;
import io.longctx.distributed.ProcessGroup;
import io.longctx.distributed.WorldInfo;
import io.longctx.engine.Precision;
import io.longctx.engine.SdpaAttention;
import io.longctx.model.LlamaModel;
import io.longctx.model.LlamaWeights;
import io.longctx.model.ModelConfig;
import io.longctx.precision.Offload;
import io.longctx.precision.TrainingWeights;
import io.longctx.train.AdamW;
import io.longctx.train.OptimizerStep;
import io.longctx.train.ParameterUpdate;
import io.longctx.train.Parameters;
import io.longctx.train.ReplicatedUpdate;
import io.longctx.train.StepRunner;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * One rank of {@code bench --nproc N}: full data-parallel training steps of a reference model (the global batch of
 * N micro-batches dealt over the ranks, gradients all-reduced in buckets, AdamW), timing the step and the part spent
 * in the gradient reduction, then the group's all-reduce bandwidth on 64 MiB. With one rank, the same global batch
 * runs as N accumulated micro-batches.
 */
public final class DataParallelBenchmark {
    private static final long PROBE_BYTES = 64L << 20;

    private DataParallelBenchmark() {
    }

    public static Map<String, Object> rank(String configName, int length, int checkpointLayers, int microBatches,
            int warmup, int steps, long bucketBytes, boolean gpu) {
        WorldInfo world = WorldInfo.fromEnvironment();
        ModelConfig config = BenchModels.config(configName, length);
        Device device = gpu ? Device.gpu(world.localRank()) : Device.cpu();
        try (ProcessGroup group = world.distributed() ? ProcessGroup.join(world, 300, gpu ? world.localRank() : -1)
                : null;
                SdpaAttention attention = SdpaAttention.create();
                NDManager manager = NDManager.newBaseManager(device)) {
            TrainingWeights placed;
            try (NDManager host = NDManager.newBaseManager(Device.cpu())) {
                LlamaWeights initial = Parameters.randomInit(config, 0.02, 1, host);
                placed = TrainingWeights.place(initial, initial.tensors().keySet(), Precision.FP32, Offload.NONE,
                        manager);
            }
            try (TrainingWeights weights = placed; Timed update = new Timed(new ReplicatedUpdate(new AdamW(
                    weights.masterManager(), weights.masters(), 0.9, 0.95, 1e-8, 0.0), group, bucketBytes))) {
                StepRunner runner = new StepRunner(new LlamaModel(weights.compute(), attention), checkpointLayers,
                        false);
                DataParallel parallel = new DataParallel(group);
                Random random = new Random(7);                     // the same batches on every rank
                double[] stepSeconds = new double[steps];
                double[] reduceSeconds = new double[steps];
                for (int i = 0; i < warmup + steps; i++) {
                    List<List<PackedSequence>> batch = new ArrayList<>();
                    for (int m = 0; m < microBatches; m++) {
                        batch.add(List.of(StepBenchmark.randomSequence(random, config, length, 0)));
                    }
                    update.nanos = 0;
                    long start = System.nanoTime();
                    OptimizerStep.run(manager, runner, update, weights, batch, i + 1, 1e-4, 1.0,
                            OptimizerStep.Start.FRESH, done -> false, parallel);
                    if (i >= warmup) {
                        stepSeconds[i - warmup] = (System.nanoTime() - start) / 1e9;
                        reduceSeconds[i - warmup] = update.nanos / 1e9;
                    }
                }
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("config", configName);
                result.put("length", length);
                result.put("checkpointing", checkpointLayers > 0);
                result.put("ranks", world.worldSize());
                result.put("device", device.toString());
                result.put("threads_per_rank", Integer.getInteger("ai.djl.pytorch.num_threads",
                        Runtime.getRuntime().availableProcessors()));
                result.put("global_micro_batches", microBatches);
                result.put("parameters", Parameters.count(weights.compute().tensors()));
                double step = Timings.median(stepSeconds);
                double reduce = Timings.median(reduceSeconds);
                result.put("step_s", step);
                result.put("step_times_s", stepSeconds);
                result.put("tokens_per_s", (double) microBatches * length / step);
                result.put("gradient_reduce_s", reduce);
                result.put("communication_share", reduce / step);
                if (group != null) {
                    result.putAll(bandwidth(group, manager));
                }
                return result;
            }
        }
    }

    /** Median time of an in-place all-reduce of 64 MiB of fp32, its algorithm and bus bandwidth (NCCL's terms). */
    private static Map<String, Object> bandwidth(ProcessGroup group, NDManager manager) {
        try (NDManager scope = manager.newSubManager()) {
            NDArray probe = scope.ones(new Shape(PROBE_BYTES / 4), DataType.FLOAT32);
            double[] seconds = new double[5];
            group.allReduceSum(List.of(probe), PROBE_BYTES);
            for (int i = 0; i < seconds.length; i++) {
                long start = System.nanoTime();
                group.allReduceSum(List.of(probe), PROBE_BYTES);
                seconds[i] = (System.nanoTime() - start) / 1e9;
            }
            double t = Timings.median(seconds);
            int n = group.size();
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("allreduce_64mib_s", t);
            out.put("allreduce_algbw_gb_s", PROBE_BYTES / t / 1e9);
            out.put("allreduce_busbw_gb_s", PROBE_BYTES / t / 1e9 * 2.0 * (n - 1) / n);
            return out;
        }
    }

    /** The update, timing its cross-rank reduction (all-reduce plus the global norm). */
    private static final class Timed implements ParameterUpdate {
        private final ParameterUpdate inner;
        long nanos;

        Timed(ParameterUpdate inner) {
            this.inner = inner;
        }

        @Override
        public double reduce(TrainingWeights weights, NDManager scope) {
            long start = System.nanoTime();
            try {
                return inner.reduce(weights, scope);
            } finally {
                nanos += System.nanoTime() - start;
            }
        }

        @Override
        public void apply(TrainingWeights weights, NDManager scope, int step, double lr, double gradScale) {
            inner.apply(weights, scope, step, lr, gradScale);
        }

        @Override
        public void discard(TrainingWeights weights) {
            inner.discard(weights);
        }

        @Override
        public Map<String, Map<String, NDArray>> checkpointFiles() {
            return inner.checkpointFiles();
        }

        @Override
        public void load(Path checkpoint, java.util.function.Consumer<String> log) {
            inner.load(checkpoint, log);
        }

        @Override
        public void close() {
            inner.close();
        }
    }
}
