package io.longctx.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.LongctxException;
import io.longctx.safetensors.SafetensorsFile;
import io.longctx.safetensors.TensorEntry;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BiConsumer;

/**
 * The weight files of an HF model directory: one {@code model.safetensors} or shards listed by
 * {@code model.safetensors.index.json}. Pickle checkpoints are refused, never opened.
 */
public final class HfCheckpoint {
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private final Path dir;
    /** Shard file to the tensor names it holds, in file order. */
    private final Map<Path, List<String>> shards;

    private HfCheckpoint(Path dir, Map<Path, List<String>> shards) {
        this.dir = dir;
        this.shards = shards;
    }

    public static HfCheckpoint locate(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new LongctxException(dir + ": model directory not found");
        }
        Path single = dir.resolve(SINGLE_FILE);
        Path index = dir.resolve(INDEX_FILE);
        if (Files.isRegularFile(single)) {
            Map<Path, List<String>> shards = new LinkedHashMap<>();
            shards.put(single, null);
            return new HfCheckpoint(dir, shards);
        }
        if (Files.isRegularFile(index)) {
            return new HfCheckpoint(dir, readIndex(dir, index));
        }
        String pickle = findPickle(dir);
        if (pickle != null) {
            throw new LongctxException(dir.resolve(pickle) + ": pickle checkpoints are refused (loading one can run "
                    + "arbitrary code); convert it to safetensors first, e.g. with transformers: "
                    + "AutoModelForCausalLM.from_pretrained(dir).save_pretrained(out, safe_serialization=True)");
        }
        throw new LongctxException(dir + ": no " + SINGLE_FILE + " or " + INDEX_FILE + " found");
    }

    private static String findPickle(Path dir) {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.{bin,pt,pth,ckpt}")) {
            for (Path file : files) {
                return file.getFileName().toString();
            }
        } catch (IOException e) {
            return null;
        }
        return null;
    }

    private static Map<Path, List<String>> readIndex(Path dir, Path index) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(index.toFile());
        } catch (IOException e) {
            throw new LongctxException(index + ": not valid JSON (" + ModelConfig.firstLine(e.getMessage()) + ")");
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject()) {
            throw new LongctxException(index + ": weight_map missing");
        }
        Map<Path, List<String>> shards = new TreeMap<>();
        map.fields().forEachRemaining(e -> {
            String file = e.getValue().asText();
            Path shard = dir.resolve(file).normalize();
            if (!e.getValue().isTextual() || !shard.startsWith(dir.normalize()) || file.contains("/")) {
                throw new LongctxException(index + ": tensor '" + e.getKey() + "' maps to '" + file
                        + "', which is not a file name in the model directory");
            }
            shards.computeIfAbsent(shard, k -> new ArrayList<>()).add(e.getKey());
        });
        for (Path shard : shards.keySet()) {
            if (!Files.isRegularFile(shard)) {
                throw new LongctxException(shard + ": shard listed in " + INDEX_FILE + " not found");
            }
        }
        return shards;
    }

    public Path dir() {
        return dir;
    }

    /**
     * Opens every shard's header and checks that each tensor the config needs is present once, with the right
     * shape and a loadable dtype. Returns the names the checkpoint holds beyond those (ignored when loading).
     */
    public List<String> validate(ModelConfig config) {
        Map<String, long[]> expected = config.expectedTensors();
        Map<String, TensorEntry> found = new LinkedHashMap<>();
        Map<String, Path> foundIn = new LinkedHashMap<>();
        for (Map.Entry<Path, List<String>> shard : shards.entrySet()) {
            try (SafetensorsFile file = SafetensorsFile.open(shard.getKey())) {
                List<String> names = shard.getValue() == null ? new ArrayList<>(file.tensors().keySet())
                        : shard.getValue();
                for (String name : names) {
                    TensorEntry entry = file.tensors().get(name);
                    if (entry == null) {
                        throw new LongctxException(shard.getKey() + ": tensor '" + name + "' is listed in "
                                + INDEX_FILE + " but not stored in this shard");
                    }
                    found.put(name, entry);
                    foundIn.put(name, shard.getKey());
                }
            }
        }
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            TensorEntry entry = found.get(e.getKey());
            if (entry == null) {
                throw new LongctxException(dir + ": tensor '" + e.getKey() + "' is missing (required by "
                        + config.modelType() + " config with " + config.numLayers() + " layers)");
            }
            if (!Arrays.equals(entry.shape(), e.getValue())) {
                throw new LongctxException(foundIn.get(e.getKey()) + ": tensor '" + e.getKey() + "' has shape "
                        + Arrays.toString(entry.shape()) + " but the config needs " + Arrays.toString(e.getValue()));
            }
            if (!entry.dtype().loadable()) {
                throw new LongctxException(foundIn.get(e.getKey()) + ": tensor '" + e.getKey()
                        + "' has unsupported dtype " + entry.dtype() + " (longctx loads F32, F16 and BF16)");
            }
        }
        List<String> extra = new ArrayList<>(found.keySet());
        extra.removeAll(expected.keySet());
        return extra;
    }

    /** Hands over every tensor the config needs, shard by shard, so only one shard is open at a time. */
    public void load(ModelConfig config, BiConsumer<String, SafetensorsFile> sink) {
        Map<String, long[]> expected = config.expectedTensors();
        for (Path shard : shards.keySet()) {
            try (SafetensorsFile file = SafetensorsFile.open(shard)) {
                for (String name : file.tensors().keySet()) {
                    if (expected.containsKey(name)) {
                        sink.accept(name, file);
                    }
                }
            }
        }
    }
}
