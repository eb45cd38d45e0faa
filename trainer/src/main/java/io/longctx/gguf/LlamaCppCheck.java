package io.longctx.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.longctx.LongctxException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A real llama.cpp, run through the project's pinned node-llama-cpp (scripts/llama-cpp, installed by
 * {@code npm ci --omit=optional}): loads a GGUF file, evaluates raw token ids with an F32 KV cache and flash attention
 * off, and reports its next-token distribution after every position and its greedy continuation.
 */
public final class LlamaCppCheck {
    public static final String DIR_PROPERTY = "longctx.llamaCppDir";
    private static final String SCRIPT = "check.mjs";
    private static final long TIMEOUT_SECONDS = 600;

    private final Path dir;

    private LlamaCppCheck(Path dir) {
        this.dir = dir;
    }

    /**
     * What llama.cpp computed.
     *
     * @param probabilities T x V float32 next-token probabilities, row t after ids[0..t]
     * @param tokens the text's tokens by llama.cpp's tokenizer, or null when no text was given
     */
    public record Result(int vocabSize, int positions, Path probabilities, int[] greedy, int[] tokens) {
        /** The next-token probabilities after positions [from, to), row-major. */
        public float[] rows(int from, int to) {
            try (RandomAccessFile file = new RandomAccessFile(probabilities.toFile(), "r");
                    FileChannel channel = file.getChannel()) {
                ByteBuffer bytes = ByteBuffer.allocate((to - from) * vocabSize * Float.BYTES)
                        .order(ByteOrder.LITTLE_ENDIAN);
                channel.read(bytes, (long) from * vocabSize * Float.BYTES);
                bytes.flip();
                float[] out = new float[(to - from) * vocabSize];
                bytes.asFloatBuffer().get(out);
                return out;
            } catch (IOException | java.nio.BufferUnderflowException e) {
                throw new LongctxException(probabilities + ": llama.cpp's probabilities are unreadable ("
                        + e.getMessage() + ")");
            }
        }
    }

    /**
     * The check, installing the pinned package from its lock file on first use (npm ci, about 10 s and 83 MB), or
     * empty with the reason it cannot run here (no node, no registry).
     */
    public static java.util.Optional<LlamaCppCheck> locate(java.util.function.Consumer<String> whyNot) {
        Path dir = directory();
        if (dir == null) {
            whyNot.accept("llama.cpp check unavailable: scripts/llama-cpp not found (set -D" + DIR_PROPERTY + ")");
            return java.util.Optional.empty();
        }
        if (!runs(dir, 30, "node", "--version")) {
            whyNot.accept("llama.cpp check unavailable: node is not on the PATH");
            return java.util.Optional.empty();
        }
        if (!installed(dir) && !(runs(dir, 600, "npm", "ci", "--omit=optional", "--ignore-scripts", "--no-audit",
                "--no-fund") && installed(dir))) {
            whyNot.accept("llama.cpp check unavailable: node-llama-cpp is not installed and npm ci failed in " + dir
                    + " (run: npm ci --omit=optional --prefix " + dir + ")");
            return java.util.Optional.empty();
        }
        return java.util.Optional.of(new LlamaCppCheck(dir));
    }

    private static boolean installed(Path dir) {
        return Files.isDirectory(dir.resolve("node_modules/node-llama-cpp"))
                && Files.isDirectory(dir.resolve("node_modules/@node-llama-cpp/linux-x64"));
    }

    private static Path directory() {
        String configured = System.getProperty(DIR_PROPERTY, System.getenv("LONGCTX_LLAMA_CPP_DIR"));
        if (configured != null) {
            return Path.of(configured);
        }
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path candidate = p.resolve("scripts").resolve("llama-cpp");
            if (Files.isRegularFile(candidate.resolve(SCRIPT))) {
                return candidate;
            }
        }
        return null;
    }

    /** Runs a command in dir, its output discarded; true when it exits 0 within the time. */
    private static boolean runs(Path dir, long seconds, String... command) {
        try {
            Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                return false;
            }
            return process.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * @param vocabSize the model's vocabulary (the width of each probability row)
     * @param greedyTokens tokens to generate greedily after the ids (0 for none)
     * @param text text to tokenize with the file's vocabulary, or null
     * @param work folder for the request and the result files
     */
    public Result run(Path gguf, int vocabSize, int[] ids, int greedyTokens, String text, Path work) {
        ObjectMapper json = new ObjectMapper();
        try {
            Files.createDirectories(work);
            Path request = work.resolve("llama-cpp-request.json");
            Path result = work.resolve("llama-cpp-result.json");
            Path probabilities = work.resolve("llama-cpp-probabilities.f32");
            ObjectNode body = json.createObjectNode();
            body.put("gguf", gguf.toAbsolutePath().toString());
            body.put("vocab_size", vocabSize);
            ArrayNode idArray = body.putArray("ids");
            for (int id : ids) {
                idArray.add(id);
            }
            body.put("greedy_tokens", greedyTokens);
            body.put("threads", Math.max(1, Runtime.getRuntime().availableProcessors()));
            body.put("probabilities_file", probabilities.toAbsolutePath().toString());
            if (text != null) {
                body.put("text", text);
            }
            Files.writeString(request, body.toString());
            Process process = new ProcessBuilder("node", dir.resolve(SCRIPT).toAbsolutePath().toString(),
                    request.toAbsolutePath().toString(), result.toAbsolutePath().toString())
                    .directory(dir.toFile()).redirectErrorStream(true).start();
            byte[] output = process.getInputStream().readAllBytes();
            if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new LongctxException(gguf + ": llama.cpp did not finish within " + TIMEOUT_SECONDS + " s");
            }
            if (process.exitValue() != 0 || !Files.isRegularFile(result)) {
                throw new LongctxException(gguf + ": llama.cpp refused the file (exit " + process.exitValue() + ": "
                        + firstError(new String(output, StandardCharsets.UTF_8)) + ")");
            }
            JsonNode root = json.readTree(result.toFile());
            return new Result(root.path("vocab_size").asInt(), root.path("positions").asInt(), probabilities,
                    ints(root.path("greedy")), root.path("tokens").isArray() ? ints(root.path("tokens")) : null);
        } catch (IOException e) {
            throw new LongctxException(gguf + ": cannot run llama.cpp (" + e.getMessage() + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LongctxException(gguf + ": interrupted while llama.cpp ran");
        }
    }

    /** The line of node's output that says what went wrong (a thrown error's message), else its last line. */
    static String firstError(String log) {
        String[] lines = log.strip().split("\n");
        for (String line : lines) {
            if (line.matches("^\\s*(\\w*Error|error|llama_model_load|gguf_init).*")) {
                return line.strip();
            }
        }
        return lines.length == 0 || lines[lines.length - 1].isBlank() ? "no output" : lines[lines.length - 1].strip();
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }
}
