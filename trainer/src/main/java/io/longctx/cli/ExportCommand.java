package io.longctx.cli;

import io.longctx.LongctxException;
import io.longctx.model.HfConfigJson;
import io.longctx.safetensors.DType;
import io.longctx.train.Checkpoints;
import io.longctx.train.Exporter;
import io.longctx.train.LoraExport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** Writes an HF model directory or a GGUF file from a checkpoint. */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Export a checkpoint (or a run's newest valid one) as an HF model directory that "
                + "transformers and vLLM read (config.json with the RoPE scaling, safetensors, tokenizer), or as one "
                + "GGUF file for llama.cpp and Ollama (--format gguf).")
final class ExportCommand implements Callable<Integer> {
    enum Format { HF, GGUF }

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "RUN_OR_CHECKPOINT")
    Path source;

    @Parameters(index = "1", paramLabel = "OUT",
            description = "The HF directory, or the .gguf file (a folder gets model.gguf inside).")
    Path out;

    @Option(names = "--format", defaultValue = "hf", description = "hf or gguf (default ${DEFAULT-VALUE}).")
    Format format;

    @Option(names = "--dtype", defaultValue = "f32", description = "f32, bf16 or f16 (default ${DEFAULT-VALUE}); "
            + "GGUF keeps norms and biases in f32.")
    String dtype;

    @Option(names = "--shard-size", defaultValue = "4GB",
            description = "Largest safetensors shard, e.g. 4GB, 500MB, 64KB (default ${DEFAULT-VALUE}).")
    String shardSize;

    @Option(names = "--config-format", defaultValue = "v4", description = "config.json layout: v4 (rope_scaling "
            + "and rope_theta, read by transformers 4, vLLM and llama.cpp's converter) or v5 (transformers 5's "
            + "rope_parameters) (default ${DEFAULT-VALUE}).")
    String configFormat;

    @Option(names = "--adapter", description = "For a LoRA checkpoint: write a PEFT adapter directory "
            + "(adapter_config.json, adapter_model.safetensors, config.json, tokenizer) instead of the merged model.")
    boolean adapter;

    @Override
    public Integer call() {
        DType type = switch (dtype.toLowerCase(Locale.ROOT)) {
            case "f32", "fp32", "float32" -> DType.F32;
            case "bf16", "bfloat16" -> DType.BF16;
            case "f16", "fp16", "float16" -> DType.F16;
            default -> throw new LongctxException("--dtype must be f32, bf16 or f16, got '" + dtype + "'");
        };
        HfConfigJson.Format layout = switch (configFormat.toLowerCase(Locale.ROOT)) {
            case "v4" -> HfConfigJson.Format.V4;
            case "v5" -> HfConfigJson.Format.V5;
            default -> throw new LongctxException("--config-format must be v4 or v5, got '" + configFormat + "'");
        };
        long shardBytes = parseSize(shardSize);
        Path checkpoint = Exporter.resolveCheckpoint(source, spec.commandLine().getErr()::println);
        if (format == Format.GGUF) {
            if (adapter) {
                throw new LongctxException("--adapter writes a PEFT directory; GGUF holds the merged model");
            }
            Path file = Files.isDirectory(out) ? out.resolve("model.gguf") : out;
            Exporter.exportGguf(checkpoint, file, type);
            spec.commandLine().getOut().println("exported " + checkpoint + " to " + file + " (GGUF, "
                    + type.name().toLowerCase(Locale.ROOT) + ")");
            return 0;
        }
        if (adapter) {
            if (!Checkpoints.isLora(checkpoint)) {
                throw new LongctxException("--adapter: " + checkpoint + " holds a whole model, not LoRA adapters");
            }
            LoraExport.writeAdapter(checkpoint, out, type);
            spec.commandLine().getOut().println("exported the adapters of " + checkpoint + " to " + out);
            return 0;
        }
        Exporter.export(checkpoint, out, shardBytes, type, Exporter.baseModelDir(checkpoint).orElse(null), layout);
        spec.commandLine().getOut().println("exported " + checkpoint + (Checkpoints.isLora(checkpoint)
                ? " (adapters merged into the base)" : "") + " to " + out);
        return 0;
    }

    static long parseSize(String text) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?i)\\s*(\\d+(?:\\.\\d+)?)\\s*([KMG]?)I?B?\\s*")
                .matcher(text);
        if (!m.matches()) {
            throw new LongctxException("--shard-size: expected a size like 4GB, 500MB or 64KB, got '" + text + "'");
        }
        double value = Double.parseDouble(m.group(1));
        long unit = switch (m.group(2).toUpperCase(Locale.ROOT)) {
            case "K" -> 1L << 10;
            case "M" -> 1L << 20;
            case "G" -> 1L << 30;
            default -> 1L;
        };
        long bytes = (long) (value * unit);
        if (bytes <= 0) {
            throw new LongctxException("--shard-size must be positive, got '" + text + "'");
        }
        return bytes;
    }
}
