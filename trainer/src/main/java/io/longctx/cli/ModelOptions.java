package io.longctx.cli;

import io.longctx.eval.ModelSession;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The options of every command that loads one model: the directory, a RoPE scaling override, the attention. */
final class ModelOptions {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "HF model directory.")
    Path model;

    @Option(names = "--rope-scaling", paramLabel = "JSON",
            description = "Override the model's RoPE scaling: none, an HF rope_scaling JSON object, or a file.")
    String ropeScaling;

    @Option(names = "--attention", defaultValue = "sdpa", description = "sdpa (fused) or plain.")
    String attention;

    ModelSession open() {
        return ModelSession.open(model, ropeScaling, attention);
    }
}
