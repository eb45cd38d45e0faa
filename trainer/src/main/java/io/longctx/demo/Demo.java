package io.longctx.demo;

import io.longctx.LongctxException;
import io.longctx.Progress;
import io.longctx.eval.EvalProtocol;
import io.longctx.eval.ModelSession;
import io.longctx.eval.TokenInput;
import io.longctx.gguf.ExportAgreement;
import io.longctx.gguf.LlamaCppCheck;
import io.longctx.eval.PasskeyStudy;
import io.longctx.eval.PerplexityStudy;
import io.longctx.model.ModelConfig;
import io.longctx.safetensors.DType;
import io.longctx.train.Checkpoints;
import io.longctx.train.Exporter;
import io.longctx.train.Recipe;
import io.longctx.train.Trainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The end-to-end demonstration: pretrain a small model at a short context, extend it with YaRN by fine-tuning, and
 * show what that does — perplexity by length for the base model unscaled, with PI, NTK-aware and YaRN applied
 * without fine-tuning, and for the fine-tuned model; passkey retrieval for base and fine-tuned; a report folder.
 * Every stage reuses what an earlier run finished.
 */
public final class Demo {
    private final DemoPlan plan;
    private final Consumer<String> log;
    private final Map<String, Double> timings = new LinkedHashMap<>();

    public Demo(DemoPlan plan, Consumer<String> log) {
        this.plan = plan;
        this.log = log;
    }

    /** Runs every stage; returns the report file. */
    public Path run() {
        long start = System.nanoTime();
        Recipe pretrain = Recipe.load(plan.pretrainRecipe(), plan.pretrainOverrides());
        boolean reusedBase = Files.isRegularFile(plan.baseDir().resolve("config.json"));
        if (reusedBase) {
            log.accept("demo: stage 1 skipped, reusing the base model at " + plan.baseDir());
        } else {
            timed("stage 1: pretrain", () -> train(pretrain));
            export(pretrain.output().dir(), plan.baseDir());
        }
        Recipe extend = Recipe.load(plan.extendRecipe(), plan.extendOverrides());
        if (extend.model().isRandom() || !extend.model().path().toAbsolutePath().normalize()
                .equals(plan.baseDir().toAbsolutePath().normalize())) {
            throw new LongctxException(plan.extendRecipe() + ": model.path must be the stage-1 export "
                    + plan.baseDir() + " (got " + extend.model().path() + ")");
        }
        if (extend.ropeScaling() == null) {
            throw new LongctxException(plan.extendRecipe() + ": the extension recipe needs rope_scaling");
        }
        timed("stage 2: extend", () -> train(extend));
        Path extended = plan.out().resolve("extended-model");
        Path extendedCheckpoint = export(extend.output().dir(), extended);

        ModelConfig base = ModelConfig.load(plan.baseDir());
        int original = base.maxPositions();
        int target = extend.data().packing().seqLen();
        double factor = extend.ropeScaling().factor();
        List<Integer> lengths = plan.evalLengths().isEmpty() ? doublings(original, target) : plan.evalLengths();
        List<PerplexityStudy.Variant> variants = List.of(
                new PerplexityStudy.Variant(plan.baseDir(), "none"),
                new PerplexityStudy.Variant(plan.baseDir(), scaling("linear", factor, original)),
                new PerplexityStudy.Variant(plan.baseDir(), scaling("ntk", factor, original)),
                new PerplexityStudy.Variant(plan.baseDir(), scaling("yarn", factor, original)),
                new PerplexityStudy.Variant(extended, "model"));
        List<Path> files = PerplexityStudy.expand(plan.evalData());
        List<PerplexityStudy.VariantResult> perplexity = new ArrayList<>();
        timed("evaluation: perplexity", () -> perplexity.addAll(PerplexityStudy.run(variants, files, lengths,
                EvalProtocol.sliding(plan.stride()), plan.evalMaxTokens(), plan.attention(), null, log)));
        PerplexityStudy.write(plan.out(), perplexity, EvalProtocol.sliding(plan.stride()), files,
                plan.evalMaxTokens());
        List<PasskeyStudy.Result> passkey = new ArrayList<>();
        // the prompts take the form stage 1's retrieval documents had (YaRN's, with the task line, when it had none)
        boolean task = pretrain.data().sources().stream().filter(source -> !source.readsFiles())
                .allMatch(source -> source.retrieval().task());
        timed("evaluation: passkey", () -> {
            for (Path model : List.of(plan.baseDir(), extended)) {
                try (ModelSession session = ModelSession.open(model, null, plan.attention())) {
                    int shortest = io.longctx.eval.Passkey.minimumLength(session.tokenizer, session.bosId(), task);
                    List<Integer> fitting = lengths.stream().filter(l -> l >= shortest).toList();
                    if (fitting.isEmpty()) {
                        throw new LongctxException("passkey: no evaluation length holds the "
                                + shortest + "-token prompt (lengths " + lengths + ")");
                    }
                    passkey.add(PasskeyStudy.run(session, fitting, plan.passkeyDepths(), task, plan.passkeyTrials(), 1234,
                            log));
                }
            }
        });
        PasskeyStudy.write(plan.out(), "passkey-base", passkey.get(0), 1234);
        PasskeyStudy.write(plan.out(), "passkey-extended", passkey.get(1), 1234);
        PasskeyStudy.drawHeatMaps(plan.out().resolve("passkey.png"), "Passkey accuracy by context length and key "
                + "depth (base trained at " + original + " tokens)", passkey);
        String[] llamaCpp = new String[1];
        timed("export check: llama.cpp", () -> llamaCpp[0] = checkWithLlamaCpp(extendedCheckpoint, extended, files,
                Math.min(target, 4 * original)));
        double total = (System.nanoTime() - start) / 1e9;
        Path report = new Report(plan, pretrain, extend, reusedBase, perplexity, passkey, llamaCpp[0], timings,
                total).write();
        log.accept(String.format(Locale.ROOT, "demo: done in %s", Progress.formatDuration(total)));
        return report;
    }

    private void train(Recipe recipe) {
        int code = new Trainer(recipe, log).run(false);
        if (code != Trainer.EXIT_DONE) {
            throw new LongctxException("training " + recipe.file() + " stopped with exit code " + code
                    + "; rerun the demo to resume");
        }
    }

    /**
     * The extended model as GGUF, run by a real llama.cpp on the start of a held-out document longer than the
     * original context; returns the report's line.
     */
    private String checkWithLlamaCpp(Path checkpoint, Path extended, List<Path> files, int length) {
        Path gguf = plan.out().resolve("extended-model.gguf");
        Exporter.exportGguf(checkpoint, gguf, DType.F32);
        log.accept("demo: exported " + checkpoint + " to " + gguf);
        StringBuilder why = new StringBuilder();
        java.util.Optional<LlamaCppCheck> llamaCpp = LlamaCppCheck.locate(why::append);
        if (llamaCpp.isEmpty()) {
            log.accept("demo: " + why);
            return "llama.cpp check not run: " + why;
        }
        try (ModelSession session = ModelSession.open(extended, null, plan.attention())) {
            int[] document = TokenInput.document(session, files.get(0));
            int[] ids = java.util.Arrays.copyOf(document, Math.min(length, document.length));
            ExportAgreement agreement = ExportAgreement.check(llamaCpp.get(), session.model, session.manager, gguf,
                    ids, 20);
            log.accept("demo: llama.cpp vs longctx: " + agreement.summary());
            return String.format(Locale.ROOT, "llama.cpp agrees with longctx on the extended model: max |delta log p|"
                    + " = %.1e, greedy tokens identical: %s (%d tokens of %s, beyond the original context; argmax "
                    + "%d/%d; %d greedy tokens)", agreement.maxAbsLogProbDifference(),
                    agreement.greedyIdentical() ? "yes" : "no", ids.length, files.get(0).getFileName(),
                    agreement.argmaxAgreements(), agreement.positions(), agreement.greedyOurs().length);
        }
    }

    private Path export(Path runDir, Path out) {
        Path checkpoint = new Checkpoints(runDir).newestValid(log)
                .orElseThrow(() -> new LongctxException(runDir + ": no checkpoint to export"));
        Exporter.export(checkpoint, out, 4L << 30, DType.F32, Exporter.baseModelDir(checkpoint).orElse(null),
                io.longctx.model.HfConfigJson.Format.V4);
        log.accept("demo: exported " + checkpoint + " to " + out);
        return checkpoint;
    }

    private void timed(String stage, Runnable work) {
        long start = System.nanoTime();
        log.accept("demo: " + stage);
        work.run();
        timings.put(stage, (System.nanoTime() - start) / 1e9);
    }

    static String scaling(String type, double factor, int original) {
        return String.format(Locale.ROOT, "{\"rope_type\": \"%s\", \"factor\": %s, "
                + "\"original_max_position_embeddings\": %d}", type, factor, original);
    }

    static List<Integer> doublings(int from, int to) {
        List<Integer> lengths = new ArrayList<>();
        for (long l = from; l <= to; l *= 2) {
            lengths.add((int) l);
        }
        if (lengths.get(lengths.size() - 1) != to) {
            lengths.add(to);
        }
        return lengths;
    }
}
