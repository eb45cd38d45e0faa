package io.longctx.cli;

import io.longctx.LongctxException;
import io.longctx.eval.EvalProtocol;
import io.longctx.eval.PerplexityStudy;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** Perplexity by context length for one or more models and scalings, as a table, results.json and charts. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Perplexity at each context length (sliding windows or one window per document; per-token or "
                + "per-window mean), and mean loss by position in the window.",
                "Every (model, rope scaling) pair is one line of the chart. Writes results.json, perplexity.png "
                        + "and loss-by-position.png to --out."})
final class EvalCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "HF model directory (repeatable).")
    List<Path> models;

    @Option(names = "--data", required = true, arity = "1..*", paramLabel = "PATH",
            description = "Documents: text files (tokenized with the model's tokenizer.json), .ids files, or "
                    + "directories of them.")
    List<Path> data;

    @Option(names = "--lengths", required = true, split = ",", paramLabel = "N,N,...",
            description = "Context lengths (window sizes) to evaluate.")
    List<Integer> lengths;

    @Option(names = "--stride", defaultValue = "256", description = "Window stride (default ${DEFAULT-VALUE}).")
    int stride;

    @Option(names = "--protocol", defaultValue = "sliding", description = "sliding: windows advancing by --stride, "
            + "every token scored once with up to W-1 tokens of context (how a long document is read); truncate: one "
            + "window per document, BOS + its first W-1 tokens (the YaRN paper's Proof-pile curves). Default "
            + "${DEFAULT-VALUE}.")
    EvalProtocol.Windows protocol;

    @Option(names = "--aggregate", defaultValue = "tokens", description = "tokens: exp(mean NLL over all scored "
            + "tokens); windows: exp(mean of per-window mean NLL), as the YaRN repository's sliding evaluation "
            + "averages. Default ${DEFAULT-VALUE}.")
    EvalProtocol.Aggregate aggregate;

    @Option(names = "--rope-scaling", paramLabel = "JSON",
            description = "A scaling to evaluate (repeatable): model (the config's own), none, an HF rope_scaling "
                    + "JSON object, or a file. Default: model.")
    List<String> ropeScalings;

    @Option(names = "--max-tokens", paramLabel = "N", description = "Use at most the first N tokens of each document.")
    Integer maxTokens;

    @Option(names = "--out", defaultValue = "eval-results", paramLabel = "DIR",
            description = "Output folder (default ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--attention", defaultValue = "sdpa", description = "sdpa (fused) or plain.")
    String attention;

    @Option(names = "--precision", description = "fp32 or bf16 (default: bf16 on a GPU, fp32 on CPU).")
    io.longctx.engine.Precision precision;

    @Override
    public Integer call() {
        for (int length : lengths) {
            if (length < 2) {
                throw new LongctxException("--lengths: each length must be at least 2, got " + length);
            }
        }
        EvalProtocol how = new EvalProtocol(protocol, aggregate, stride);
        if (maxTokens != null && maxTokens <= 1) {
            throw new LongctxException("--max-tokens must be above 1, got " + maxTokens);
        }
        List<Path> files = PerplexityStudy.expand(data);
        List<PerplexityStudy.Variant> variants = new ArrayList<>();
        for (Path model : models) {
            for (String scaling : ropeScalings == null ? List.of("model") : ropeScalings) {
                variants.add(new PerplexityStudy.Variant(model, scaling));
            }
        }
        PrintWriter printer = spec.commandLine().getOut();
        List<PerplexityStudy.VariantResult> results = PerplexityStudy.run(variants, files, lengths, how,
                maxTokens, attention, precision, spec.commandLine().getErr()::println);
        results.forEach(r -> PerplexityStudy.printTable(printer, r, how));
        PerplexityStudy.write(out, results, how, files, maxTokens);
        printer.println("wrote " + out.resolve("results.json") + ", " + out.resolve("perplexity.png") + ", "
                + out.resolve("loss-by-position.png"));
        return 0;
    }
}
