package io.longctx.cli;

import io.longctx.engine.Precision;
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

    @Option(names = "--precision", description = "fp32 or bf16: what the forward pass computes in (default: bf16 "
            + "on a GPU, fp32 on CPU, where bf16 matrix products are many times slower). Norm statistics, RoPE and "
            + "the loss stay fp32.")
    Precision precision;

    ModelSession open() {
        return ModelSession.open(model, ropeScaling, attention, precision);
    }
}
