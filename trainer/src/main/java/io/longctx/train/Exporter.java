package io.longctx.train;

import io.longctx.model.TensorSource;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.longctx.LongctxException;
import io.longctx.data.tokenize.TextTokenizer;
import io.longctx.gguf.GgufExport;
import io.longctx.gguf.GgufVocabulary;
import io.longctx.model.HfCheckpoint;
import io.longctx.model.HfConfigJson;
import io.longctx.model.ModelConfig;
import io.longctx.safetensors.DType;
import io.longctx.safetensors.SafetensorsFile;
import io.longctx.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Turns a checkpoint into what serving engines load: an HF model directory for transformers and vLLM (config.json with
 * the RoPE scaling in the v4 or v5 layout, model.safetensors sharded with an index above the shard size, the
 * tokenizer files, generation_config.json when the base model had one), or one GGUF file for llama.cpp.
 */
public final class Exporter {
    private Exporter() {
    }

    /** A checkpoint folder as given, or the newest valid checkpoint of a run folder. */
    public static Path resolveCheckpoint(Path runOrCheckpoint, Consumer<String> log) {
        if (Files.isRegularFile(runOrCheckpoint.resolve(Checkpoints.MANIFEST))) {
            if (Checkpoints.verify(runOrCheckpoint) instanceof Checkpoints.Verdict.Unusable unusable) {
                throw new LongctxException(runOrCheckpoint + ": checkpoint fails verification (" + unusable.reason()
                        + ")");
            }
            return runOrCheckpoint;
        }
        if (!Files.isDirectory(runOrCheckpoint)) {
            throw new LongctxException(runOrCheckpoint + ": not found");
        }
        return new Checkpoints(runOrCheckpoint).newestValid(log).orElseThrow(() -> new LongctxException(
                runOrCheckpoint + ": no valid checkpoint (expected a run folder with " + Checkpoints.DIR
                        + "/step-NNNNNN, or a checkpoint folder)"));
    }

    /**
     * @param shardBytes largest shard; the weights go to one model.safetensors when they fit
     * @param dtype F32, F16 or BF16 for the exported weights
     */
    /**
     * @param baseModelDir the base model's folder (its generation_config.json is copied), or null
     * @param format config.json layout (transformers v4 or v5)
     */
    public static void export(Path checkpoint, Path out, long shardBytes, DType dtype, Path baseModelDir,
            HfConfigJson.Format format) {
        try {
            Files.createDirectories(out);
            ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            ObjectNode config = HfConfigJson.inFormat(
                    (ObjectNode) json.readTree(checkpoint.resolve("config.json").toFile()), format);
            config.put("torch_dtype", switch (dtype) {
                case BF16 -> "bfloat16";
                case F16 -> "float16";
                default -> "float32";
            });
            Files.writeString(out.resolve("config.json"), json.writeValueAsString(config));
            if (Checkpoints.isLora(checkpoint)) {
                try (LoraExport.Merged merged = LoraExport.merged(checkpoint)) {
                    writeWeights(merged.source(), out, shardBytes, dtype);
                }
            } else {
                try (SafetensorsFile file = SafetensorsFile.open(checkpoint.resolve(Checkpoints.MODEL))) {
                    writeWeights(TensorSource.of(file), out, shardBytes, dtype);
                }
            }
            copyTokenizer(checkpoint, out);
            Path generation = baseModelDir == null ? null : baseModelDir.resolve("generation_config.json");
            if (generation != null && Files.isRegularFile(generation)) {
                Files.copy(generation, out.resolve("generation_config.json"),
                        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new LongctxException(out + ": cannot export (" + e.getMessage() + ")");
        }
    }

    /**
     * Writes the checkpoint as one GGUF file for llama.cpp (LoRA adapters merged into the base), its vocabulary from
     * the checkpoint's tokenizer.json.
     */
    public static void exportGguf(Path checkpoint, Path file, DType dtype) {
        ModelConfig config = ModelConfig.load(checkpoint);
        String problem = GgufExport.problem(config);
        if (problem != null) {
            throw new LongctxException(checkpoint + ": " + problem);
        }
        Path tokenizer = checkpoint.resolve("tokenizer").resolve(TextTokenizer.FILE_NAME);
        if (!Files.isRegularFile(tokenizer)) {
            throw new LongctxException(checkpoint + ": no tokenizer/tokenizer.json; a GGUF file needs the vocabulary");
        }
        GgufVocabulary vocabulary = GgufVocabulary.fromTokenizerJson(tokenizer,
                config.vocabSize(), config.bosTokenId(), config.eosTokenId());
        if (Checkpoints.isLora(checkpoint)) {
            try (LoraExport.Merged merged = LoraExport.merged(checkpoint)) {
                GgufExport.write(config, merged.source(), vocabulary, dtype, file);
            }
        } else {
            try (SafetensorsFile weights = SafetensorsFile.open(checkpoint.resolve(Checkpoints.MODEL))) {
                GgufExport.write(config, TensorSource.of(weights), vocabulary, dtype, file);
            }
        }
    }

    /** The checkpoint's tokenizer files, next to the exported weights. */
    static void copyTokenizer(Path checkpoint, Path out) throws IOException {
        Path tokenizer = checkpoint.resolve("tokenizer");
        if (Files.isDirectory(tokenizer)) {
            try (Stream<Path> files = Files.list(tokenizer)) {
                for (Path file : files.filter(Files::isRegularFile).toList()) {
                    Files.copy(file, out.resolve(file.getFileName()),
                            java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    /** Assigns tensors to shards in order, then writes each shard reading one tensor at a time. */
    private static void writeWeights(TensorSource file, Path out, long shardBytes, DType dtype) throws IOException {
        Files.deleteIfExists(out.resolve(HfCheckpoint.SINGLE_FILE));
        Files.deleteIfExists(out.resolve(HfCheckpoint.INDEX_FILE));
        {
            List<List<String>> shards = new ArrayList<>();
            long current = 0;
            long total = 0;
            for (String name : file.names()) {
                long bytes = elements(file.shape(name)) * dtype.bytes();
                if (shards.isEmpty() || current > 0 && current + bytes > shardBytes) {
                    shards.add(new ArrayList<>());
                    current = 0;
                }
                shards.get(shards.size() - 1).add(name);
                current += bytes;
                total += bytes;
            }
            Map<String, Object> weightMap = new LinkedHashMap<>();
            for (int i = 0; i < shards.size(); i++) {
                String name = shards.size() == 1 ? HfCheckpoint.SINGLE_FILE
                        : String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
                SafetensorsWriter writer = new SafetensorsWriter(dtype).metadata("format", "pt");
                for (String tensor : shards.get(i)) {
                    writer.addRows(tensor, file.shape(tensor), (from, to) -> file.rows(tensor, from, to));
                    weightMap.put(tensor, name);
                }
                writer.write(out.resolve(name));
            }
            if (shards.size() > 1) {
                Map<String, Object> index = new LinkedHashMap<>();
                index.put("metadata", Map.of("total_size", total));
                index.put("weight_map", weightMap);
                Files.writeString(out.resolve(HfCheckpoint.INDEX_FILE),
                        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(index));
            }
        }
    }

    private static long elements(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** The base model directory recorded in a checkpoint's recipe; empty for a randomly initialised model. */
    public static java.util.Optional<Path> baseModelDir(Path checkpoint) {
        Path file = checkpoint.resolve("recipe.yaml");
        if (!Files.isRegularFile(file)) {
            return java.util.Optional.empty();
        }
        Object recipe;
        try {
            recipe = new org.yaml.snakeyaml.Yaml().load(Files.readString(file));
        } catch (IOException | RuntimeException e) {
            throw new LongctxException(file + ": unreadable (" + e.getMessage() + ")");
        }
        if (recipe instanceof Map<?, ?> root && root.get("model") instanceof Map<?, ?> model
                && model.get("path") instanceof String path) {
            return java.util.Optional.of(Path.of(path));
        }
        return java.util.Optional.empty();
    }
}
