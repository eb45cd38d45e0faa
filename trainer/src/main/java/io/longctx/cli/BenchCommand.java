package io.longctx.cli;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.LongctxException;
import io.longctx.engine.Precision;
import io.longctx.precision.Offload;
import io.longctx.bench.BenchModels;
import io.longctx.bench.MatmulPeak;
import io.longctx.bench.StepBenchmark;
import io.longctx.bench.ValidationBenchmark;
import io.longctx.eval.Charts;
import io.longctx.eval.JsonText;
import io.longctx.model.ModelConfig;
import io.longctx.profile.OpProfile;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * The performance harness: matmul peak, training-step time per length with and without activation checkpointing,
 * MFU against the measured peak, peak memory (one process per configuration, so each peak is its own), and
 * attention alone (fused against plain).
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Benchmark: fp32 matmul peak; full training steps of a reference model at each length, with "
                + "and without activation checkpointing (median step time, tokens/s, PaLM-formula GFLOP/s, MFU, "
                + "peak RSS per configuration in its own process); attention alone, SDPA against plain."})
final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--config", defaultValue = "small", description = "small (hidden 512, 8 layers, vocab 32000) "
            + "or tiny. Default ${DEFAULT-VALUE}.")
    String config;

    @Option(names = "--lengths", split = ",", defaultValue = "512,2048,8192", paramLabel = "N,N,...")
    List<Integer> lengths;

    @Option(names = "--steps", defaultValue = "3", description = "Timed steps per configuration (median reported).")
    int steps;

    @Option(names = "--warmup", defaultValue = "1")
    int warmup;

    @Option(names = "--attention-plain-max", defaultValue = "8192",
            description = "Longest length at which the plain (L^2) attention is timed.")
    int plainMax;

    @Option(names = "--device", defaultValue = "cpu", description = "cpu or gpu.")
    String device;

    @Option(names = "--attention", defaultValue = "sdpa", description = "Attention in the training steps: sdpa or "
            + "plain (default ${DEFAULT-VALUE}).")
    String attention;

    @Option(names = "--checkpointing", split = ",", defaultValue = "off,on", paramLabel = "off,on",
            description = "Which activation-checkpointing settings to measure: off, on (every layer recomputed), "
                    + "keepN (on, the last N layers keep their activations), selective (attention outputs kept, the "
                    + "rest recomputed), selective-keepN (default ${DEFAULT-VALUE}).")
    List<String> checkpointing;

    @Option(names = "--precision", split = ",", defaultValue = "fp32", paramLabel = "fp32,bf16",
            description = "Which compute precisions to measure (default ${DEFAULT-VALUE}; bf16 matrix products are "
            + "many times slower on CPUs without bf16 units).")
    List<Precision> precision;

    @Option(names = "--offload", defaultValue = "none", description = "Where master weights and optimizer moments "
            + "live: none (the device) or host (default ${DEFAULT-VALUE}).")
    Offload offload;

    @Option(names = "--lora", split = ",", defaultValue = "off", paramLabel = "off,on", description = "Full "
            + "fine-tuning (off) and/or LoRA rank 8 on q/k/v/o with embeddings and norms trained (on).")
    List<String> lora;

    @Option(names = "--skip-attention", description = "Do not time attention alone.")
    boolean skipAttention;

    @Option(names = "--profile", paramLabel = "DIR", description = "After the timed steps of each configuration, "
            + "profile one more step with libtorch's profiler: Chrome traces go to DIR (open them in Perfetto), and "
            + "the self time per operator and category is printed and added to the JSON.")
    Path profile;

    @Option(names = "--document-tokens", defaultValue = "0", paramLabel = "N", description = "Train on document-aware "
            + "packing with documents of N tokens (attention per document, positions restarting); 0, the default, "
            + "is concat packing.")
    int documentTokens;

    @Option(names = "--validation-lengths", split = ",", paramLabel = "N,N,...", description = "Also measure the "
            + "validation loss of one sequence of each length through the chunked output head: peak memory next to "
            + "what whole logits would need (e.g. 25600 = 50 chunks).")
    List<Integer> validationLengths = new ArrayList<>();

    @Option(names = "--nproc", defaultValue = "1", paramLabel = "N", description = "Data parallel: for each length "
            + "and checkpointing setting, the same global batch of N micro-batches on N ranks x (threads / N) "
            + "against 1 rank x all threads; step time, the share of it in the gradient all-reduce, and the group's "
            + "all-reduce bandwidth (needs the c10d shim).")
    int nproc;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Option(names = "--out", paramLabel = "FILE", description = "Also write the JSON to this file.")
    Path out;

    @Override
    public Integer call() throws Exception {
        ModelConfig model = BenchModels.config(config, 8);
        if (documentTokens < 0) {
            throw new LongctxException("--document-tokens must be 0 (concat packing) or a document length, got "
                    + documentTokens);
        }
        for (String setting : checkpointing) {
            if (!setting.matches("off|on|keep\\d+|selective(-keep\\d+)?")) {
                throw new LongctxException("--checkpointing takes off, on, keepN (on, the last N layers not "
                        + "recomputed), selective and/or selective-keepN, got '" + setting + "'");
            }
        }
        PrintWriter err = spec.commandLine().getErr();
        if (nproc > 1) {
            return dataParallel(err);
        }
        double peak;
        try (NDManager manager = NDManager.newBaseManager(device())) {
            peak = MatmulPeak.gflops(manager, new int[] {1024, 2048, 4096}, 3);
        }
        err.printf(Locale.ROOT, "bench: fp32 matmul peak %.1f GFLOP/s%n", peak);
        List<Map<String, Object>> steps = new ArrayList<>();
        for (String adapters : lora) {
        for (Precision p : precision) {
            for (int length : lengths) {
                for (String setting : checkpointing) {
                    err.printf(Locale.ROOT, "bench: %s L=%d checkpointing %s, attention %s, %s...%n", config,
                            length, setting, attention, p.recipeName());
                    List<String> args = new ArrayList<>(List.of("--config", config, "--length",
                            String.valueOf(length), "--checkpointing", setting.equals("off") ? "0" : "1",
                            "--keep-last", setting.contains("keep") ? setting.replaceAll("\\D", "") : "0",
                            "--save-attention", String.valueOf(setting.startsWith("selective")), "--steps",
                            String.valueOf(this.steps), "--warmup", String.valueOf(warmup), "--device", device,
                            "--attention", attention, "--document-tokens", String.valueOf(documentTokens),
                            "--precision", p.name(), "--offload", offload.name(), "--lora",
                            String.valueOf(adapters.equals("on"))));
                    if (profile != null) {
                        args.addAll(List.of("--profile", profile.resolve(String.format(Locale.ROOT,
                                "step-%s-L%d-ckpt-%s-%s-%s.json", config, length, setting, attention,
                                p.recipeName())).toString()));
                    }
                    Map<String, Object> r = child("step", args.toArray(String[]::new));
                    if (r.get("achieved_gflops") instanceof Number g) {
                        r.put("mfu", g.doubleValue() / peak);
                    }
                    steps.add(r);
                }
            }
        }
        }
        List<Map<String, Object>> attentionAlone = new ArrayList<>();
        for (int length : skipAttention ? List.<Integer>of() : lengths) {
            err.printf(Locale.ROOT, "bench: attention L=%d...%n", length);
            attentionAlone.add(child("attention", "--length", String.valueOf(length), "--heads",
                    String.valueOf(model.numHeads()), "--head-dim", String.valueOf(model.headDim()), "--plain",
                    String.valueOf(length <= plainMax), "--device", device));
        }
        List<Map<String, Object>> validation = new ArrayList<>();
        for (int length : validationLengths) {
            err.printf(Locale.ROOT, "bench: validation loss L=%d...%n", length);
            Map<String, Object> r = child("validation", "--config", config, "--length", String.valueOf(length),
                    "--device", device);
            err.printf(Locale.ROOT, "bench: validation L=%d: peak %d MiB above the loaded model (whole logits and "
                    + "log-softmax would be %.0f MiB), %.1f s%n", length, ((Number) r.get(
                    "peak_above_loaded_model_mib")).longValue(), ((Number) r.get("full_logits_and_log_softmax_mib"))
                    .doubleValue(), ((Number) r.get("seconds")).doubleValue());
            validation.add(r);
        }
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("config", config);
        result.put("parameters", model.parameterCount());
        result.put("compute_parameters", BenchModels.computeParameters(model));
        result.put("threads", Runtime.getRuntime().availableProcessors());
        result.put("device", device);
        result.put("allocator", steps.isEmpty() ? null : steps.get(0).get("allocator"));
        result.put("matmul_peak_gflops", peak);
        result.put("steps", steps);
        result.put("step_attention", attention);
        result.put("document_tokens", documentTokens);
        result.put("attention", attentionAlone);
        result.put("validation", validation);
        if (profile != null) {
            Path chart = profile.resolve("profile.png");
            Charts.stackedBars(chart, "Where a training step's time goes (" + config + ", " + attention + ")",
                    "seconds (one profiled step)", profileRows(steps));
            err.printf(Locale.ROOT, "bench: profile chart %s%n", chart);
        }
        String text = JsonText.pretty(result);
        if (out != null) {
            Files.writeString(out, text);
        }
        PrintWriter printer = spec.commandLine().getOut();
        if (json) {
            printer.println(JsonText.compact(result));
        } else {
            printTable(printer, peak, steps, attentionAlone);
        }
        return 0;
    }

    /** bench --nproc N: N ranks against one, each configuration in fresh processes, one measurement at a time. */
    private int dataParallel(PrintWriter err) throws IOException, InterruptedException {
        int threads = Runtime.getRuntime().availableProcessors();
        List<Map<String, Object>> rows = new ArrayList<>();
        for (int length : lengths) {
            for (String setting : checkpointing) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("length", length);
                row.put("checkpointing", setting.equals("on"));
                for (int ranks : List.of(1, nproc)) {
                    err.printf(Locale.ROOT, "bench: %s L=%d checkpointing %s, %d micro-batches on %d rank(s) x %d "
                            + "thread(s)...%n", config, length, setting, nproc, ranks, Math.max(1, threads / ranks));
                    row.put(ranks == 1 ? "one_rank" : "ranks", ranks(ranks, Math.max(1, threads / ranks), "--config",
                            config, "--length", String.valueOf(length), "--checkpointing", setting.equals("on") ? "1"
                            : "0", "--steps", String.valueOf(steps), "--warmup", String.valueOf(warmup),
                            "--micro-batches", String.valueOf(nproc), "--device", device));
                }
                rows.add(row);
            }
        }
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("config", config);
        result.put("nproc", nproc);
        result.put("threads", threads);
        result.put("rows", rows);
        if (out != null) {
            Files.writeString(out, JsonText.pretty(result));
        }
        PrintWriter printer = spec.commandLine().getOut();
        if (json) {
            printer.println(JsonText.compact(result));
            printer.flush();
            return 0;
        }
        printer.printf(Locale.ROOT, "%8s %5s %12s %12s %7s %10s %8s %12s %10s%n", "length", "ckpt", "1 rank s",
                nproc + " ranks s", "ratio", "reduce s", "share", "64MiB AR s", "busbw GB/s");
        for (Map<String, Object> row : rows) {
            Map<?, ?> one = (Map<?, ?>) row.get("one_rank");
            Map<?, ?> many = (Map<?, ?>) row.get("ranks");
            if (one.containsKey("error") || many.containsKey("error")) {
                printer.printf(Locale.ROOT, "%8s failed: %s %s%n", row.get("length"), one.get("error"),
                        many.get("error"));
                continue;
            }
            double a = ((Number) one.get("step_s")).doubleValue();
            double b = ((Number) many.get("step_s")).doubleValue();
            printer.printf(Locale.ROOT, "%8d %5s %12.3f %12.3f %7.2f %10.3f %7.1f%% %12.3f %10.2f%n",
                    ((Number) row.get("length")).intValue(), Boolean.TRUE.equals(row.get("checkpointing")) ? "on"
                    : "off", a, b, b / a, ((Number) many.get("gradient_reduce_s")).doubleValue(),
                    100 * ((Number) many.get("communication_share")).doubleValue(),
                    ((Number) many.get("allreduce_64mib_s")).doubleValue(),
                    ((Number) many.get("allreduce_busbw_gb_s")).doubleValue());
        }
        printer.flush();
        return 0;
    }

    /** One data-parallel measurement on {@code ranks} processes of {@code threads} threads; rank 0's result. */
    private Map<String, Object> ranks(int ranks, int threads, String... args) throws IOException,
            InterruptedException {
        int port;
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        List<Process> processes = new ArrayList<>();
        for (int rank = 0; rank < ranks; rank++) {
            List<String> command = childCommand("dp", args);
            command.add(1, "-Dai.djl.pytorch.num_threads=" + threads);
            command.add(1, "-Dai.djl.pytorch.num_interop_threads=1");
            ProcessBuilder builder = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT);
            if (ranks > 1) {
                builder.environment().putAll(Map.of("RANK", "" + rank, "WORLD_SIZE", "" + ranks, "LOCAL_RANK",
                        "" + rank, "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", "" + port));
            }
            builder.environment().put("OMP_NUM_THREADS", "" + threads);
            if (rank > 0) {
                builder.redirectOutput(ProcessBuilder.Redirect.DISCARD);
            }
            processes.add(builder.start());
        }
        Map<String, Object> result = parseResult(processes.get(0));
        for (Process p : processes) {
            p.waitFor();
        }
        return result;
    }

    /** Self seconds per category of each profiled configuration, categories in one order for every bar. */
    private static Map<String, Map<String, Double>> profileRows(List<Map<String, Object>> steps) {
        Map<String, Map<String, Double>> rows = new LinkedHashMap<>();
        for (Map<String, Object> r : steps) {
            if (!(r.get("profile") instanceof Map<?, ?> profile)) {
                continue;
            }
            Map<String, Double> parts = new LinkedHashMap<>();
            for (OpProfile.Category category : OpProfile.Category.values()) {
                parts.put(category.label(), 0.0);
            }
            ((Map<?, ?>) profile.get("self_s_by_category")).forEach((k, v) -> parts.put((String) k,
                    ((Number) v).doubleValue()));
            parts.put("outside operators (Java, JNI)", ((Number) profile.get("outside_ops_s")).doubleValue());
            rows.put(String.format(Locale.ROOT, "L=%s, checkpointing %s", r.get("length"), policyOf(r)), parts);
        }
        return rows;
    }

    /** A step row's checkpointing setting (off, on, keepN, selective...). */
    private static String policyOf(Map<String, Object> r) {
        return r.get("policy") instanceof String policy ? policy
                : Boolean.TRUE.equals(r.get("checkpointing")) ? "on" : "off";
    }

    private Device device() {
        return device.equals("gpu") ? Device.gpu() : Device.cpu();
    }

    private static void printTable(PrintWriter out, double peak, List<Map<String, Object>> steps,
            List<Map<String, Object>> attention) {
        out.printf(Locale.ROOT, "fp32 matmul peak: %.1f GFLOP/s; allocator: %s%n", peak,
                steps.isEmpty() ? "-" : steps.get(0).get("allocator"));
        out.printf(Locale.ROOT, "%5s %5s %8s %16s %10s %10s %10s %7s %10s %10s %7s %s%n", "prec", "lora", "length",
                "ckpt", "step s", "tok/s",
                "GFLOP/s", "MFU", "peak MiB", "plan MiB", "error", "handles / heap / resident, before->after");
        for (Map<String, Object> r : steps) {
            if (r.containsKey("error")) {
                out.printf(Locale.ROOT, "%8s %6s failed: %s%n", r.get("length"), r.get("checkpointing"),
                        r.get("error"));
                continue;
            }
            long measured = ((Number) r.get("peak_rss_mib")).longValue();
            long predicted = ((Number) r.get("predicted_peak_mib")).longValue();
            out.printf(Locale.ROOT, "%5s %5s %8d %16s %10.3f %10.0f %10.1f %6.1f%% %10d %10d %+6.1f%% %s->%s / %s->%s "
                    + "MiB / %s->%s MiB%n", r.get("precision"), Boolean.TRUE.equals(r.get("lora")) ? "on" : "off",
                    ((Number) r.get("length")).intValue(), policyOf(r),
                    ((Number) r.get("step_s")).doubleValue(), ((Number) r.get("tokens_per_s")).doubleValue(),
                    ((Number) r.get("achieved_gflops")).doubleValue(), 100 * ((Number) r.get("mfu")).doubleValue(),
                    measured, predicted, 100.0 * (predicted - measured) / measured, r.get("handles_before"),
                    r.get("handles_after"),
                    r.get("heap_before_mib"), r.get("heap_after_mib"), r.get("rss_before_mib"),
                    r.get("rss_after_mib"));
        }
        out.printf(Locale.ROOT, "attention alone (forward + backward):%n%8s %10s %10s%n", "length", "sdpa s",
                "plain s");
        for (Map<String, Object> r : attention) {
            Object plain = r.get("plain_s");
            out.printf(Locale.ROOT, "%8s %10.4f %10s%n", r.get("length"), ((Number) r.getOrDefault("sdpa_s",
                    Double.NaN)).doubleValue(), plain == null ? "-" : String.format(Locale.ROOT, "%.4f",
                    ((Number) plain).doubleValue()));
        }
        out.flush();
    }

    /** Runs one measurement in a fresh JVM so its peak memory is its own. */
    private Map<String, Object> child(String kind, String... args) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(childCommand(kind, args)).redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        Map<String, Object> result = parseResult(process);
        for (int i = 0; result.containsKey("error") && i + 1 < args.length; i += 2) {
            result.put(args[i].replace("--", ""), args[i + 1]);
        }
        return result;
    }

    private static List<String> childCommand(String kind, String... args) {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(Main.class.getName());
        command.add("bench-child");
        command.add(kind);
        command.addAll(List.of(args));
        return command;
    }

    /** The RESULT line a measurement process prints, or an error entry with its exit code. */
    private static Map<String, Object> parseResult(Process process) throws IOException, InterruptedException {
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int code = process.waitFor();
        for (String line : output.split("\n")) {
            if (line.startsWith("RESULT ")) {
                JsonNode node = new ObjectMapper().readTree(line.substring(7));
                @SuppressWarnings("unchecked")
                Map<String, Object> map = new ObjectMapper().convertValue(node, LinkedHashMap.class);
                return map;
            }
        }
        Map<String, Object> failed = new LinkedHashMap<>();
        failed.put("error", "measurement process exited with " + code);
        return failed;
    }

    /** One measurement, run by {@link BenchCommand} in a child process. */
    @Command(name = "bench-child", hidden = true)
    static final class Child implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @picocli.CommandLine.Parameters(index = "0")
        String kind;

        @Option(names = "--config", defaultValue = "small")
        String config;

        @Option(names = "--length", required = true)
        int length;

        @Option(names = "--checkpointing", defaultValue = "0")
        int checkpointing;

        @Option(names = "--keep-last", defaultValue = "0")
        int keepLast;

        @Option(names = "--save-attention", arity = "1", defaultValue = "false")
        boolean saveAttention;

        @Option(names = "--steps", defaultValue = "3")
        int steps;

        @Option(names = "--warmup", defaultValue = "1")
        int warmup;

        @Option(names = "--heads", defaultValue = "8")
        int heads;

        @Option(names = "--head-dim", defaultValue = "64")
        int headDim;

        @Option(names = "--plain", arity = "1", defaultValue = "true")
        boolean plain;

        @Option(names = "--device", defaultValue = "cpu")
        String device;

        @Option(names = "--attention", defaultValue = "sdpa")
        String attention;

        @Option(names = "--profile")
        Path profile;

        @Option(names = "--document-tokens", defaultValue = "0")
        int documentTokens;

        @Option(names = "--precision", defaultValue = "FP32")
        Precision precision;

        @Option(names = "--offload", defaultValue = "NONE")
        Offload offload;

        @Option(names = "--lora", arity = "1", defaultValue = "false")
        boolean lora;

        @Option(names = "--micro-batches", defaultValue = "2")
        int microBatches;

        @Option(names = "--bucket-mb", defaultValue = "25")
        int bucketMb;

        @Override
        public Integer call() {
            Device d = device.equals("gpu") ? Device.gpu() : Device.cpu();
            Map<String, Object> result = switch (kind) {
                case "step" -> StepBenchmark.run(config, length, checkpointing, keepLast, saveAttention, attention,
                        documentTokens,
                        precision, offload, lora, warmup, steps, d, profile);
                case "attention" -> StepBenchmark.attention(length, heads, headDim, plain, d);
                case "validation" -> ValidationBenchmark.run(config, length, d);
                case "dp" -> io.longctx.bench.DataParallelBenchmark.rank(config, length, checkpointing,
                        microBatches, warmup, steps, (long) bucketMb << 20, d.isGpu());
                default -> throw new LongctxException("unknown measurement " + kind);
            };
            spec.commandLine().getOut().println("RESULT " + JsonText.compact(result));
            return 0;
        }
    }
}
