package io.longctx.cli;

import io.longctx.eval.JsonText;
import io.longctx.LongctxException;
import io.longctx.model.ModelConfig;
import io.longctx.rope.RopeFrequencies;
import io.longctx.rope.RopeScaling;
import io.longctx.eval.ModelSession;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** Shows what a RoPE scaling method does to each rotary pair of a model. */
@Command(name = "rope", mixinStandardHelpOptions = true,
        description = "Print the scaled RoPE frequencies of a model config: per pair the wavelength, the scale "
                + "applied and its band (extrapolated / ramp / interpolated), or one JSON object with --json.")
final class RopeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "CONFIG_JSON", description = "An HF config.json, or a model directory.")
    Path config;

    @Option(names = "--seq-len", paramLabel = "N",
            description = "Sequence length of the pass (matters for dynamic, dynamic_yarn and longrope); default: "
                    + "max_position_embeddings.")
    Integer seqLen;

    @Option(names = "--rope-scaling", paramLabel = "JSON",
            description = "Replace the config's scaling: none, an HF rope_scaling JSON object, or a JSON file.")
    String ropeScaling;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Override
    public Integer call() {
        ModelConfig model = Files.isDirectory(config) ? ModelConfig.load(config) : ModelConfig.read(config);
        RopeScaling scaling = ropeScaling == null ? model.ropeScaling()
                : ModelSession.parseRopeScaling(ropeScaling, model);
        int length = seqLen != null ? seqLen : model.maxPositions();
        if (length <= 0) {
            throw new LongctxException("--seq-len must be positive, got " + length);
        }
        RopeFrequencies f = scaling.frequencies(model.ropeGeometry(), length);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("rope_type", f.ropeType());
            result.put("inv_freq", f.invFreq());
            result.put("attention_factor", f.attentionFactor());
            if (f.hasRampBounds()) {
                result.put("low", f.rampLow());
                result.put("high", f.rampHigh());
            }
            result.put("factor", scaling.factor());
            result.put("rotary_dim", model.rotaryDim());
            result.put("rope_theta", model.ropeTheta());
            result.put("seq_len", length);
            out.println(JsonText.compact(result));
            return 0;
        }
        out.printf(Locale.ROOT, "rope_type %s  factor %s  rotary_dim %d  rope_theta %s  seq_len %d%n", f.ropeType(),
                scaling.factor(), model.rotaryDim(), model.ropeTheta(), length);
        out.printf(Locale.ROOT, "attention_factor %.6f (attention logits scaled by %.6f)%n", f.attentionFactor(),
                f.attentionFactor() * f.attentionFactor());
        if (f.hasRampBounds()) {
            out.printf(Locale.ROOT, "ramp (correction range) low %s  high %s%n", f.rampLow(), f.rampHigh());
        }
        out.printf(Locale.ROOT, "%5s  %14s  %14s  %10s  %s%n", "pair", "inv_freq", "wavelength", "scale", "band");
        for (int i = 0; i < f.pairs(); i++) {
            out.printf(Locale.ROOT, "%5d  %14.6e  %14.2f  %10.4f  %s%n", i, f.invFreq(i), f.wavelength(i),
                    f.scale(i), f.band(i).name().toLowerCase(Locale.ROOT));
        }
        return 0;
    }
}
