package io.longctx.lora;

import com.fasterxml.jackson.databind.JsonNode;
import io.longctx.Hashing;
import io.longctx.LongctxException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * The frozen base model a LoRA checkpoint extends, named by its folder and the SHA-256 of each of its safetensors
 * files: a LoRA checkpoint holds only the trained tensors, so resuming or exporting it against other base weights
 * would silently give another model.
 */
public record BaseIdentity(Path path, Map<String, String> sha256) {
    public BaseIdentity {
        sha256 = Map.copyOf(new TreeMap<>(sha256));
    }

    /** Hashes every *.safetensors file of the folder (each read once). */
    public static BaseIdentity of(Path dir) {
        Map<String, String> hashes = new TreeMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path file : files.filter(f -> f.getFileName().toString().endsWith(".safetensors")).sorted()
                    .toList()) {
                hashes.put(file.getFileName().toString(), Hashing.sha256(file));
            }
        } catch (IOException e) {
            throw new LongctxException(dir + ": cannot read the base model's weight files (" + e.getMessage() + ")");
        }
        return new BaseIdentity(dir.toAbsolutePath().normalize(), hashes);
    }

    public static BaseIdentity fromJson(JsonNode node, Path source) {
        if (!node.path("path").isTextual() || !node.path("sha256").isObject()) {
            throw new LongctxException(source + ": the LoRA checkpoint does not name its base model");
        }
        Map<String, String> hashes = new TreeMap<>();
        node.path("sha256").fields().forEachRemaining(e -> hashes.put(e.getKey(), e.getValue().asText()));
        return new BaseIdentity(Path.of(node.path("path").asText()), hashes);
    }

    public Map<String, Object> toMap() {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("path", path.toString());
        map.put("sha256", new TreeMap<>(sha256));
        return map;
    }

    /**
     * Refuses a base whose weight files differ from this one's, naming the first file that differs.
     *
     * @param what who asks, for the message (e.g. "model.path", "export")
     */
    public void requireSame(BaseIdentity found, Path checkpoint, String what) {
        if (found.sha256.equals(sha256)) {
            return;
        }
        String detail = "weight files " + sha256.keySet() + " -> " + found.sha256.keySet();
        for (Map.Entry<String, String> e : sha256.entrySet()) {
            String now = found.sha256.get(e.getKey());
            if (now != null && !now.equals(e.getValue())) {
                detail = e.getKey() + " sha256 " + e.getValue().substring(0, 12) + "... -> " + now.substring(0, 12)
                        + "...";
                break;
            }
        }
        throw new LongctxException(what + ": " + found.path + " is not the base model " + checkpoint + " was "
                + "trained on (" + detail + "; trained on " + path + ")");
    }
}
