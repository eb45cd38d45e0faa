package io.longctx.cli;

import io.longctx.LongctxException;
import io.longctx.eval.ModelSession;
import io.longctx.gguf.ExportAgreement;
import io.longctx.gguf.LlamaCppCheck;
import io.longctx.train.Checkpoints;
import io.longctx.train.Exporter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** Runs a real llama.cpp on an exported GGUF file and compares it with longctx's model on the same token ids. */
@Command(name = "verify-export", mixinStandardHelpOptions = true,
        description = "Check a GGUF export with a real llama.cpp (scripts/llama-cpp, installed by npm ci "
                + "--omit=optional): next-token log-probs, argmax and greedy tokens on the given ids against "
                + "longctx's own model. Exit 0 when they agree, 1 when not.")
final class VerifyExportCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE.gguf")
    Path gguf;

    @Option(names = "--ids", required = true, description = "Token ids to evaluate: a file of integers separated "
            + "by spaces, commas or new lines (a JSON array works too).")
    Path idsFile;

    @Option(names = "--model", required = true, description = "What the file was exported from: an HF model "
            + "directory (export --format hf), a checkpoint, or a run folder (its newest valid checkpoint).")
    Path model;

    @Option(names = "--greedy", defaultValue = "20", description = "Greedy tokens to compare after the ids "
            + "(default ${DEFAULT-VALUE}).")
    int greedy;

    @Option(names = "--tolerance", defaultValue = "1e-3", description = "Largest |log p difference| accepted over "
            + "entries above -30 (default ${DEFAULT-VALUE}; about 0.25 suits bf16 files).")
    double tolerance;

    @Option(names = "--attention", defaultValue = "sdpa", description = "longctx's attention: sdpa or plain.")
    String attention;

    @Override
    public Integer call() throws IOException {
        if (!Files.isRegularFile(gguf)) {
            throw new LongctxException(gguf + ": not found");
        }
        if (greedy < 0) {
            throw new LongctxException("--greedy must be >= 0, got " + greedy);
        }
        int[] ids = readIds(idsFile);
        Path source = modelDir(model);
        StringBuilder why = new StringBuilder();
        LlamaCppCheck llamaCpp = LlamaCppCheck.locate(why::append).orElseThrow(() -> new LongctxException(
                why.toString()));
        try (ModelSession session = ModelSession.open(source, null, attention)) {
            ExportAgreement agreement = ExportAgreement.check(llamaCpp, session.model, session.manager, gguf, ids,
                    greedy);
            boolean agrees = agreement.maxAbsLogProbDifference() <= tolerance
                    && agreement.argmaxAgreements() == agreement.positions() && agreement.greedyIdentical();
            spec.commandLine().getOut().println("llama.cpp vs longctx on " + gguf + ": " + agreement.summary());
            spec.commandLine().getOut().println(String.format(Locale.ROOT, "%s (tolerance %.1e)",
                    agrees ? "agree" : "DISAGREE", tolerance));
            return agrees ? 0 : 1;
        }
    }

    /** An HF directory as given; a run folder or checkpoint as its (verified) checkpoint with whole weights. */
    private Path modelDir(Path dir) {
        if (Files.isRegularFile(dir.resolve("config.json")) && !Files.isRegularFile(dir.resolve(Checkpoints.MANIFEST))) {
            return dir;
        }
        Path checkpoint = Exporter.resolveCheckpoint(dir, spec.commandLine().getErr()::println);
        if (Checkpoints.isLora(checkpoint)) {
            throw new LongctxException("--model " + checkpoint + " holds LoRA adapters; export it with --format hf "
                    + "and pass that directory");
        }
        return checkpoint;
    }

    static int[] readIds(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new LongctxException(file + ": " + (Files.exists(file) ? "unreadable (" + e.getMessage() + ")"
                    : "not found"));
        }
        String[] parts = text.replaceAll("[\\[\\]]", " ").trim().split("[\\s,]+");
        if (parts.length == 0 || parts[0].isEmpty()) {
            throw new LongctxException(file + ": holds no token ids");
        }
        int[] ids = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                ids[i] = Integer.parseInt(parts[i]);
            } catch (NumberFormatException e) {
                throw new LongctxException(file + ": entry " + (i + 1) + " ('" + parts[i] + "') is not a token id");
            }
        }
        return ids;
    }
}
