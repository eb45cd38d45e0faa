package io.longctx.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.LongctxException;
import io.longctx.Progress;
import io.longctx.eval.LengthResult;
import io.longctx.eval.PasskeyStudy;
import io.longctx.eval.PerplexityStudy;
import io.longctx.train.Recipe;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The demo's report.md: what ran, the tables, the charts, and the checks stated honestly. */
final class Report {
    private final DemoPlan plan;
    private final Recipe pretrain;
    private final Recipe extend;
    private final boolean reusedBase;
    private final List<PerplexityStudy.VariantResult> perplexity;
    private final List<PasskeyStudy.Result> passkey;
    private final Map<String, Double> timings;
    private final String llamaCpp;
    private final double totalSeconds;

    Report(DemoPlan plan, Recipe pretrain, Recipe extend, boolean reusedBase,
            List<PerplexityStudy.VariantResult> perplexity, List<PasskeyStudy.Result> passkey, String llamaCpp,
            Map<String, Double> timings, double totalSeconds) {
        this.llamaCpp = llamaCpp;
        this.plan = plan;
        this.pretrain = pretrain;
        this.extend = extend;
        this.reusedBase = reusedBase;
        this.perplexity = perplexity;
        this.passkey = passkey;
        this.timings = timings;
        this.totalSeconds = totalSeconds;
    }

    /** A pass/fail line for one claim, with the numbers behind it. */
    record Check(String claim, boolean holds, String numbers) {
        String markdown() {
            return "- " + (holds ? "**holds**" : "**does not hold**") + ": " + claim + " — " + numbers;
        }
    }

    Path write() {
        StringBuilder md = new StringBuilder();
        List<Integer> lengths = perplexity.get(0).lengths().stream().map(LengthResult::length).toList();
        int original = lengths.get(0);
        int target = lengths.get(lengths.size() - 1);
        md.append("# longctx demo report\n\n");
        md.append(String.format(Locale.ROOT, "Generated %s on %d CPU cores; total %s%s.%n%n",
                ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME),
                Runtime.getRuntime().availableProcessors(), Progress.formatDuration(totalSeconds),
                reusedBase ? " (stage 1 reused from an earlier run)" : ""));
        md.append("## What ran\n\n");
        md.append(stage("Stage 1, pretraining", pretrain));
        md.append(stage("Stage 2, context extension", extend));
        md.append("\n| stage | time |\n|---|---|\n");
        timings.forEach((stage, seconds) -> md.append("| ").append(stage).append(" | ")
                .append(Progress.formatDuration(seconds)).append(" |\n"));
        md.append("\n## Perplexity by context length\n\n");
        md.append("Held-out documents (never trained on): ").append(plan.evalData().size()).append(" path(s), ")
                .append(plan.evalMaxTokens() == null ? "whole documents" : "first " + plan.evalMaxTokens()
                        + " tokens of each")
                .append("; sliding windows with stride ").append(plan.stride())
                .append(", each window starting with BOS; perplexity = exp(mean NLL over scored tokens).\n\n");
        md.append("| variant |");
        lengths.forEach(l -> md.append(' ').append(l).append(" |"));
        md.append("\n|---|");
        lengths.forEach(l -> md.append("---|"));
        md.append('\n');
        for (PerplexityStudy.VariantResult r : perplexity) {
            md.append("| ").append(r.label()).append(" |");
            for (LengthResult l : r.lengths()) {
                md.append(Double.isFinite(l.perplexity()) ? String.format(Locale.ROOT, " %.3f |", l.perplexity())
                        : " n/a |");
            }
            md.append('\n');
        }
        md.append("\n![perplexity by context length](perplexity.png)\n\n");
        md.append("![loss by position](loss-by-position.png)\n\n");
        md.append("## Checks\n\n");
        for (Check check : checks(original, target)) {
            md.append(check.markdown()).append('\n');
        }
        md.append("\n## Serving with llama.cpp\n\n");
        md.append(llamaCpp).append(".\n\n");
        md.append("The GGUF file carries YaRN as llama.cpp reads it (rope.scaling.type yarn, factor, original "
                + "context length); next-token distributions compared with an F32 KV cache and flash attention off.\n");
        md.append("\n## Passkey retrieval\n\n");
        md.append("Protocol: ").append(io.longctx.eval.Passkey.protocol(passkey.get(0).task())).append(".\n\n");
        md.append("Training data: stage 1 ").append(mix(pretrain)).append("; stage 2 ").append(mix(extend))
                .append(".\n\n");
        md.append("![passkey accuracy, base and extended](passkey.png)\n\n");
        for (PasskeyStudy.Result r : passkey) {
            md.append(String.format(Locale.ROOT, "%s: %.0f%% over %d trials (%s); by length:", r.label(),
                    100 * r.meanAccuracy(), r.trials(), r.depths().describe()));
            List<String> byLength = r.lengths().stream().map(length -> String.format(Locale.ROOT, "%d %.0f%%",
                    length, 100 * r.accuracyAt(length))).toList();
            md.append(' ').append(String.join(", ", byLength)).append(".\n\n");
        }
        md.append("### Passkey checks\n\n");
        for (Check check : passkeyChecks(original, target)) {
            md.append(check.markdown()).append('\n');
        }
        md.append('\n');
        md.append("## Files\n\n");
        md.append("- `results.json`: every perplexity number, per variant and length, with loss by position\n");
        md.append("- `passkey-base.json`, `passkey-extended.json`: every trial's key, depth, answer and output; "
                + "`passkey.png`: both heat maps side by side\n");
        md.append("- `extended-model/`: the fine-tuned model as an HF directory (config.json with rope_scaling, "
                + "model.safetensors, tokenizer.json)\n");
        md.append("- `extended-model.gguf`: the same model as one GGUF file for llama.cpp and Ollama\n");
        Path file = plan.out().resolve("report.md");
        try {
            Files.createDirectories(plan.out());
            Files.writeString(file, md);
        } catch (IOException e) {
            throw new LongctxException(file + ": cannot write (" + e.getMessage() + ")");
        }
        return file;
    }

    private String stage(String name, Recipe recipe) {
        String steps = recipe.train().steps() + " steps x " + recipe.train().sequencesPerStep() + " sequences of "
                + recipe.data().packing().seqLen() + " tokens";
        String scaling = recipe.ropeScaling() == null ? "no RoPE scaling"
                : recipe.ropeScaling().ropeType() + " x" + recipe.ropeScaling().factor();
        return String.format(Locale.ROOT, "- %s: `%s`, %s, %s, activation checkpointing %s; final training loss "
                + "%s.%n", name, recipe.file(), steps, scaling, recipe.run().checkpointLayers() == 0 ? "off" : "on",
                finalLoss(recipe.output().dir()));
    }

    /** What a stage trained on: plain text, or plain text mixed with synthetic retrieval documents. */
    static String mix(Recipe recipe) {
        List<String> retrieval = recipe.data().sources().stream().filter(source -> !source.readsFiles())
                .map(source -> source.retrieval().describe()).toList();
        return retrieval.isEmpty() ? "trained on plain text alone (no retrieval documents)"
                : "mixed synthetic retrieval documents into its text (" + String.join("; ", retrieval) + ")";
    }

    private static String finalLoss(Path runDir) {
        try {
            List<String> lines = Files.readAllLines(runDir.resolve("metrics.jsonl"));
            if (lines.isEmpty()) {
                return "n/a";
            }
            JsonNode last = new ObjectMapper().readTree(lines.get(lines.size() - 1));
            return String.format(Locale.ROOT, "%.4f at step %d", last.path("loss").asDouble(),
                    last.path("step").asInt());
        } catch (IOException e) {
            return "n/a";
        }
    }

    /** The retrieval targets: the extended model at the target length at every depth, the base model beyond. */
    List<Check> passkeyChecks(int original, int target) {
        PasskeyStudy.Result base = passkey.get(0);
        PasskeyStudy.Result extended = passkey.get(1);
        double[] byDepth = extended.accuracyByDepthAt(target);
        StringBuilder cells = new StringBuilder();
        boolean everyDepth = byDepth.length > 0;
        for (int r = 0; r < byDepth.length; r++) {
            everyDepth &= byDepth[r] >= 0.8;
            cells.append(String.format(Locale.ROOT, "%sdepth ~%.2f: %s", r == 0 ? "" : ", ",
                    extended.rows().get(r), Double.isNaN(byDepth[r]) ? "no trial"
                            : String.format(Locale.ROOT, "%.0f%%", 100 * byDepth[r])));
        }
        List<Check> checks = new java.util.ArrayList<>();
        checks.add(new Check("the base model retrieves the key inside its training length (" + original + ")",
                base.accuracyAt(original) >= 0.8, String.format(Locale.ROOT, "%.0f%% at %d",
                        100 * base.accuracyAt(original), original)));
        StringBuilder beyond = new StringBuilder();
        boolean baseFails = true;
        for (int length : base.lengths()) {
            if (length >= 4 * original) {
                baseFails &= base.accuracyAt(length) <= 0.2;
                beyond.append(String.format(Locale.ROOT, "%s%.0f%% at %d", beyond.length() == 0 ? "" : ", ",
                        100 * base.accuracyAt(length), length));
            }
        }
        checks.add(new Check("the base model retrieves at most 20% at " + 4 * original + " tokens and beyond",
                baseFails && beyond.length() > 0, beyond.length() == 0 ? "no such length evaluated"
                        : beyond.toString()));
        checks.add(new Check("the extended model retrieves at least 80% at " + target + " in every depth bin",
                everyDepth, cells.toString()));
        return checks;
    }

    List<Check> checks(int original, int target) {
        PerplexityStudy.VariantResult base = perplexity.get(0);
        PerplexityStudy.VariantResult pi = perplexity.get(1);
        PerplexityStudy.VariantResult yarn = perplexity.get(3);
        PerplexityStudy.VariantResult tuned = perplexity.get(4);
        double baseShort = base.perplexityAt(original);
        double baseLong = base.perplexityAt(target);
        double tunedLong = tuned.perplexityAt(target);
        double tunedShort = tuned.perplexityAt(original);
        StringBuilder beats = new StringBuilder();
        boolean yarnBeatsPi = true;
        for (LengthResult l : yarn.lengths()) {
            if (l.length() > original && l.length() <= 4 * original) {
                double p = pi.perplexityAt(l.length());
                yarnBeatsPi &= l.perplexity() < p;
                beats.append(String.format(Locale.ROOT, "%d: YaRN %.3f vs PI %.3f; ", l.length(), l.perplexity(), p));
            }
        }
        return List.of(
                new Check("the base model's perplexity rises sharply beyond its training length",
                        baseLong > 1.5 * baseShort, String.format(Locale.ROOT, "%.3f at %d, %.3f at %d (x%.2f)",
                                baseShort, original, baseLong, target, baseLong / baseShort)),
                new Check("the fine-tuned YaRN model at " + target + " is within 10% of the base at " + original,
                        tunedLong <= 1.10 * baseShort, String.format(Locale.ROOT, "%.3f vs %.3f (%+.1f%%)",
                                tunedLong, baseShort, 100 * (tunedLong / baseShort - 1))),
                new Check("the fine-tuned YaRN model at " + original + " is no more than 5% above the base there",
                        tunedShort <= 1.05 * baseShort, String.format(Locale.ROOT, "%.3f vs %.3f (%+.1f%%)",
                                tunedShort, baseShort, 100 * (tunedShort / baseShort - 1))),
                new Check("YaRN without fine-tuning beats PI without fine-tuning at 2x-4x", yarnBeatsPi,
                        beats.toString().replaceAll("; $", "")));
    }
}
