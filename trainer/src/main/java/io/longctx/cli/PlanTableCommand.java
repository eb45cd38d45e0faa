package io.longctx.cli;

import io.longctx.engine.Precision;
import io.longctx.lora.LoraConfig;
import io.longctx.model.ModelConfig;
import io.longctx.plan.DeviceMemory;
import io.longctx.plan.MemoryPlan;
import io.longctx.plan.MemoryPlanner;
import io.longctx.plan.PlanInput;
import io.longctx.plan.ReferenceModels;
import io.longctx.precision.Offload;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** The planner's table for the 7B-8B reference bases, as the README carries it. */
@Command(name = "plan-table", mixinStandardHelpOptions = true,
        description = "Print the planner's per-device peak for Llama-2-7B, Llama-3.1-8B and Mistral-7B at several "
                + "lengths under full fp32, full bf16 with host offload, and LoRA bf16 (one CUDA device, activation "
                + "checkpointing every layer, micro-batch 1), as a Markdown table.")
final class PlanTableCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--lengths", split = ",", defaultValue = "32768,65536,131072")
    List<Integer> lengths;

    @Option(names = "--devices-memory", split = ",", defaultValue = "80GiB,141GiB")
    List<String> memories;

    @Option(names = "--ranks", defaultValue = "8", description = "Data-parallel ranks of the sharded columns "
            + "(optimizer: {shard: true}), one device each; default ${DEFAULT-VALUE}.")
    int ranks;

    @Option(names = "--ranks-memory", defaultValue = "80GiB", description = "Memory of each of those devices.")
    String ranksMemory;

    record Mode(String name, Precision precision, Offload offload, LoraConfig lora) {
    }

    static final List<Mode> MODES = List.of(
            new Mode("full fp32", Precision.FP32, Offload.NONE, null),
            new Mode("full bf16", Precision.BF16, Offload.NONE, null),
            new Mode("full bf16 + host offload", Precision.BF16, Offload.HOST, null),
            new Mode("LoRA bf16 (r 8, q/k/v/o, embed + norms)", Precision.BF16, Offload.NONE,
                    new LoraConfig(8, 16, LoraConfig.DEFAULT_TARGETS, LoraConfig.DEFAULT_EXTRA)));

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        StringBuilder header = new StringBuilder("| model | length | mode | device peak | host peak |");
        StringBuilder rule = new StringBuilder("|---|---|---|---|---|");
        for (String m : memories) {
            header.append(" fits ").append(m).append(" |");
            rule.append("---|");
        }
        header.append(" peak per device, ").append(ranks).append(" ranks sharded | fits ").append(ranks)
                .append(" x ").append(ranksMemory).append(" |");
        rule.append("---|---|");
        out.println(header);
        out.println(rule);
        for (Map.Entry<String, ModelConfig> model : ReferenceModels.all().entrySet()) {
            for (int length : lengths) {
                for (Mode mode : MODES) {
                    PlanInput in = new PlanInput(model.getValue(), length, 1, 1, mode.precision(), mode.offload(),
                            mode.lora(), List.of("*"), false, true, 1, 0);
                    MemoryPlan plan = MemoryPlanner.plan(in, Long.MAX_VALUE);
                    StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "| %s | %dk | %s | %.1f GiB | "
                            + "%.1f GiB |", model.getKey(), length / 1024, mode.name(),
                            plan.devicePeak() / 1073741824.0, plan.hostPeak() / 1073741824.0));
                    for (String m : memories) {
                        row.append(plan.devicePeak() <= DeviceMemory.parse(m) ? " yes |" : " no |");
                    }
                    MemoryPlan sharded = MemoryPlanner.plan(in.onDevices(ranks, true), Long.MAX_VALUE);
                    row.append(String.format(Locale.ROOT, " %.1f GiB | %s |", sharded.devicePeak() / 1073741824.0,
                            sharded.devicePeak() <= DeviceMemory.parse(ranksMemory) ? "yes" : "no"));
                    out.println(row);
                }
            }
        }
        out.flush();
        return 0;
    }
}
