package io.longctx.cli;

import ai.djl.Device;
import io.longctx.eval.JsonText;
import io.longctx.plan.DeviceMemory;
import io.longctx.plan.MemoryPlan;
import io.longctx.plan.MemoryPlanner;
import io.longctx.plan.PlanInput;
import io.longctx.train.Recipe;
import io.longctx.train.RunConfig;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** Predicts a recipe's peak memory before any work, part by part, and whether it fits. */
@Command(name = "plan", mixinStandardHelpOptions = true,
        description = {"Predict a recipe's peak memory per device and on the host, part by part (weights, masters, "
                + "gradients, moments, saved activations, recompute, head, attention, runtime), and whether it "
                + "fits; with the change that would make it fit. train runs the same check first.",
                "Exit codes: 0 fits, 1 does not fit, 2 bad input."})
final class PlanCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    RecipeOptions recipe;

    @Option(names = "--devices", defaultValue = "1", description = "Data-parallel ranks, one per device; with "
            + "the recipe's optimizer: {shard: true} each holds 1/N of the optimizer state, else a replica (default "
            + "${DEFAULT-VALUE}).")
    int devices;

    @Option(names = "--device-memory", paramLabel = "SIZE", description = "Memory of one device, e.g. 80GiB; "
            + "default: this machine's (the CUDA device's, or physical memory on CPU).")
    String deviceMemory;

    @Option(names = "--json", description = "Print {\"device_peak_bytes\", \"host_peak_bytes\", \"fits\", "
            + "\"parts\"} as one JSON object.")
    boolean json;

    @Override
    public Integer call() {
        Recipe r = recipe.load();
        long memory = deviceMemory != null ? DeviceMemory.parse(deviceMemory)
                : DeviceMemory.of(r.run().device() == RunConfig.Device.GPU && hasGpu() ? Device.gpu() : Device.cpu());
        MemoryPlan plan = MemoryPlanner.plan(PlanInput.of(r, devices), memory);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(JsonText.compact(plan.toMap()));
        } else {
            out.printf(Locale.ROOT, "%s: %s, seq_len %d x micro_batch %d, %s, checkpointing %s, optimizer state "
                    + "on %s%s%n", r.file(), r.architecture().modelType(), r.data().packing().seqLen(),
                    r.train().microBatch(), r.run().precision().recipeName(), r.run().checkpointingLabel(), r.run().offload().recipeName().equals("host") ? "host"
                    : "device", r.lora() == null ? ", full fine-tuning" : ", LoRA rank " + r.lora().rank());
            if (devices > 1) {
                out.printf(Locale.ROOT, "%d ranks, optimizer state %s%n", devices, r.run().shardOptimizer()
                        ? "sharded (1/" + devices + " per device)" : "replicated on every device");
            }
            out.print(plan.table());
        }
        out.flush();
        return plan.fits() ? 0 : 1;
    }

    private static boolean hasGpu() {
        return ai.djl.engine.Engine.getInstance().getGpuCount() > 0;
    }
}
