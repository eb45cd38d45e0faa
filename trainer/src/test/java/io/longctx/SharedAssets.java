package io.longctx;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Locates ../shared (reference models and notes). CI has it; a user's clone may not, and then the tests that need
 * it are skipped with a message saying so.
 */
public final class SharedAssets {
    private SharedAssets() {
    }

    public static Path sharedDir() {
        String env = System.getenv("LONGCTX_SHARED");
        if (env != null && Files.isDirectory(Path.of(env))) {
            return Path.of(env).normalize();
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolveSibling("shared");
            if (Files.isDirectory(candidate.resolve("models"))) {
                return candidate;
            }
        }
        return null;
    }

    /** The stories260K model directory, or the test is skipped with a clear message. */
    public static Path stories260K() {
        Path shared = sharedDir();
        Path dir = shared == null ? null : shared.resolve("models/stories260K");
        assumeTrue(dir != null && Files.isRegularFile(dir.resolve("model.safetensors")),
                "skipped: ../shared/models/stories260K is not present (it ships beside the project checkout in CI)");
        return dir;
    }

    /** The token ids llama2.c's reference logits were computed on (reference-logits.json's token_ids). */
    public static int[] stories260KReferenceIds() {
        Path file = stories260K().resolve("reference-logits.json");
        try {
            com.fasterxml.jackson.databind.JsonNode ids = new com.fasterxml.jackson.databind.ObjectMapper()
                    .readTree(file.toFile()).get("token_ids");
            int[] out = new int[ids.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = ids.get(i).asInt();
            }
            return out;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
