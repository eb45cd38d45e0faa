package io.longctx.train;

import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.longctx.Hashing;
import io.longctx.LongctxException;
import io.longctx.engine.Tensors;
import io.longctx.safetensors.DType;
import io.longctx.safetensors.SafetensorsFile;
import io.longctx.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The checkpoints of a run: {@code <run>/checkpoints/step-NNNNNN/} folders holding model.safetensors (HF names, F32),
 * optimizer.safetensors (AdamW moments; with a sharded optimizer one file per rank), state.json (step, sampler cursor, counters), config.json, recipe.yaml, the
 * tokenizer, and manifest.json with every file's size and SHA-256. A checkpoint is written to a temporary folder,
 * each file synced, the manifest written last, then the folder renamed: a crash never leaves one that looks
 * complete, and one that fails verification is skipped in favour of the previous.
 */
public final class Checkpoints {
    public static final String DIR = "checkpoints";
    public static final String MANIFEST = "manifest.json";
    public static final String GRADIENTS = "gradients.safetensors";
    /** A LoRA checkpoint's weights: only what trains (adapters and extra trainable tensors), fp32. */
    public static final String ADAPTER = "adapter.safetensors";
    public static final String MODEL = "model.safetensors";
    /** step-NNNNNN after a whole step; step-NNNNNN-micro-KKKKKK inside step NNNNNN+1 after K micro-batches. */
    private static final Pattern STEP_DIR = Pattern.compile("step-(\\d{6,})(-micro-(\\d{6,}))?");
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final Path root;

    public Checkpoints(Path runDir) {
        this.root = runDir.resolve(DIR);
    }

    public Path root() {
        return root;
    }

    public static String name(int step) {
        return String.format("step-%06d", step);
    }

    /** The folder name of a state: a step boundary, or a point inside the next step. */
    public static String name(TrainingState state) {
        return state.microBatchesDone() == 0 ? name(state.step())
                : String.format("%s-micro-%06d", name(state.step()), state.microBatchesDone());
    }

    /**
     * What rank 0 writes into a checkpoint, beside the files every rank writes ({@link #writeFiles}).
     *
     * @param base for a LoRA run, the frozen base the trainable weights extend (they go to adapter.safetensors);
     *     null for a full model (model.safetensors)
     * @param worldSize the ranks that wrote it (optimizer shards and mid-step gradients are per rank)
     */
    public record Contents(Map<String, NDArray> weights, TrainingState state, JsonNode config, String recipeYaml,
            Path tokenizerDir, String storeIdentity, io.longctx.lora.BaseIdentity base, int worldSize) {
    }

    /** The mid-step gradient sums of a rank: gradients.safetensors for one process, else one file per rank. */
    public static String gradientsFile(int rank, int world) {
        return world == 1 ? GRADIENTS : String.format("gradients-rank-%03d-of-%03d.safetensors", rank, world);
    }

    /** The world size a checkpoint was written with (1 for checkpoints that do not say). */
    public static int worldSize(Path checkpoint) {
        try {
            return new ObjectMapper().readTree(checkpoint.resolve(MANIFEST).toFile()).path("world_size").asInt(1);
        } catch (IOException e) {
            throw new LongctxException(checkpoint.resolve(MANIFEST) + ": unreadable (" + e.getMessage() + ")");
        }
    }

    /** Whether a checkpoint holds adapters over a base rather than a whole model. */
    public static boolean isLora(Path checkpoint) {
        return Files.isRegularFile(checkpoint.resolve(ADAPTER));
    }

    /** The base a LoRA checkpoint was trained on, from its manifest. */
    public static io.longctx.lora.BaseIdentity base(Path checkpoint) {
        Path manifest = checkpoint.resolve(MANIFEST);
        try {
            return io.longctx.lora.BaseIdentity.fromJson(new ObjectMapper().readTree(manifest.toFile()).path("base"),
                    manifest);
        } catch (IOException e) {
            throw new LongctxException(manifest + ": unreadable (" + e.getMessage() + ")");
        }
    }

    /** Whether a checkpoint can be resumed from, and why not. */
    public sealed interface Verdict {
        record Valid() implements Verdict {
        }

        record Unusable(String reason) implements Verdict {
        }
    }

    /** Writes a checkpoint of one process atomically, with the files the process writes itself; returns its folder. */
    public Path write(Contents contents, Map<String, Map<String, NDArray>> files) {
        Path temp = staging(contents.state());
        prepare(temp);
        writeFiles(temp, files);
        return commit(temp, contents);
    }

    /** The hidden folder a checkpoint of this state is assembled in before it is renamed into place. */
    public Path staging(TrainingState state) {
        return root.resolve("." + name(state) + ".tmp");
    }

    /** Rank 0, first: an empty staging folder (whatever a crashed attempt left there goes). */
    public void prepare(Path temp) {
        try {
            deleteTree(temp);
            Files.createDirectories(temp);
        } catch (IOException e) {
            throw new LongctxException(temp + ": cannot prepare a checkpoint (" + e.getMessage() + ")");
        }
    }

    /** Any rank, after {@link #prepare}: its own tensor files (optimizer shard, mid-step gradients), each synced. */
    public static void writeFiles(Path temp, Map<String, Map<String, NDArray>> files) {
        files.forEach((name, tensors) -> writeTensors(temp.resolve(name), tensors));
    }

    /**
     * Rank 0, after every rank's files are in: the weights, state, config, recipe and tokenizer, then the manifest of
     * every file, then the rename that makes the checkpoint visible.
     */
    public Path commit(Path temp, Contents contents) {
        Path target = root.resolve(name(contents.state()));
        try {
            writeTensors(temp.resolve(contents.base() == null ? MODEL : ADAPTER), contents.weights());
            writeSynced(temp.resolve("state.json"), JSON.writeValueAsBytes(contents.state().toMap()));
            writeSynced(temp.resolve("config.json"), JSON.writeValueAsBytes(contents.config()));
            writeSynced(temp.resolve("recipe.yaml"), contents.recipeYaml().getBytes(java.nio.charset.StandardCharsets.UTF_8));
            if (contents.tokenizerDir() != null && Files.isDirectory(contents.tokenizerDir())) {
                Path tokenizer = Files.createDirectories(temp.resolve("tokenizer"));
                try (Stream<Path> files = Files.list(contents.tokenizerDir())) {
                    for (Path file : files.filter(Files::isRegularFile).sorted().toList()) {
                        writeSynced(tokenizer.resolve(file.getFileName()), Files.readAllBytes(file));
                    }
                }
            }
            Map<String, Object> files = new LinkedHashMap<>();
            try (Stream<Path> walk = Files.walk(temp)) {
                for (Path file : walk.filter(Files::isRegularFile).sorted().toList()) {
                    Map<String, Object> entry = new LinkedHashMap<>();
                    entry.put("bytes", Files.size(file));
                    entry.put("sha256", Hashing.sha256(file));
                    files.put(temp.relativize(file).toString(), entry);
                }
            }
            Map<String, Object> manifest = new LinkedHashMap<>();
            manifest.put("format", 1);
            manifest.put("step", contents.state().step());
            manifest.put("store", contents.storeIdentity());
            manifest.put("world_size", contents.worldSize());
            if (contents.base() != null) {
                manifest.put("base", contents.base().toMap());
            }
            manifest.put("files", files);
            writeSynced(temp.resolve(MANIFEST), JSON.writeValueAsBytes(manifest));
            deleteTree(target);
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
            syncDirectory(root);
            return target;
        } catch (IOException e) {
            throw new LongctxException(target + ": cannot write checkpoint (" + e.getMessage() + ")");
        } finally {
            try {
                deleteTree(temp);
            } catch (IOException ignored) {
                // never looks complete: no manifest, hidden name
            }
        }
    }

    private static void writeTensors(Path file, Map<String, NDArray> tensors) {
        SafetensorsWriter writer = new SafetensorsWriter(DType.F32);
        tensors.forEach((name, array) -> writer.addRows(name, array.getShape().getShape(),
                (from, to) -> Tensors.rows(array, from, to)));
        writer.write(file);
    }

    private static void writeSynced(Path file, byte[] bytes) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            channel.write(java.nio.ByteBuffer.wrap(bytes));
            channel.force(true);
        }
    }

    private static void syncDirectory(Path dir) {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException ignored) {
            // not every file system syncs directories; the rename itself is atomic
        }
    }

    /** Complete checkpoint folders, newest first. */
    public List<Path> list() {
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        try (Stream<Path> dirs = Files.list(root)) {
            return dirs.filter(Files::isDirectory)
                    .filter(p -> STEP_DIR.matcher(p.getFileName().toString()).matches())
                    .sorted(Comparator.comparing((Path p) -> p.getFileName().toString()).reversed())
                    .toList();
        } catch (IOException e) {
            throw new LongctxException(root + ": cannot list (" + e.getMessage() + ")");
        }
    }

    public static int stepOf(Path checkpoint) {
        Matcher m = STEP_DIR.matcher(checkpoint.getFileName().toString());
        if (!m.matches()) {
            throw new LongctxException(checkpoint + ": not a checkpoint folder (step-NNNNNN)");
        }
        return Integer.parseInt(m.group(1));
    }

    /** Whether the checkpoint is complete and every file matches its manifest. */
    public static Verdict verify(Path checkpoint) {
        Path manifestFile = checkpoint.resolve(MANIFEST);
        if (!Files.isRegularFile(manifestFile)) {
            return new Verdict.Unusable("no " + MANIFEST);
        }
        try {
            JsonNode manifest = new ObjectMapper().readTree(manifestFile.toFile());
            JsonNode files = manifest.path("files");
            String weights = files.has(ADAPTER) ? ADAPTER : MODEL;
            for (String required : List.of(weights, "state.json", "config.json")) {
                if (!files.has(required)) {
                    return new Verdict.Unusable("manifest lists no " + required);
                }
            }
            boolean optimizer = false;
            for (var names = files.fieldNames(); names.hasNext(); ) {
                optimizer |= names.next().startsWith("optimizer");
            }
            if (!optimizer) {
                return new Verdict.Unusable("manifest lists no optimizer state");
            }
            for (var it = files.fields(); it.hasNext(); ) {
                var e = it.next();
                Path file = checkpoint.resolve(e.getKey());
                if (!Files.isRegularFile(file)) {
                    return new Verdict.Unusable(e.getKey() + " is missing");
                }
                if (Files.size(file) != e.getValue().path("bytes").asLong()) {
                    return new Verdict.Unusable(e.getKey() + " has " + Files.size(file) + " bytes, the manifest "
                            + "says " + e.getValue().path("bytes").asLong());
                }
                if (!Hashing.sha256(file).equals(e.getValue().path("sha256").asText())) {
                    return new Verdict.Unusable(e.getKey() + " does not match its checksum");
                }
            }
            try (SafetensorsFile model = SafetensorsFile.open(checkpoint.resolve(weights))) {
                model.tensors();
            }
            return new Verdict.Valid();
        } catch (IOException | LongctxException e) {
            return new Verdict.Unusable(e.getMessage());
        }
    }

    /** The newest checkpoint that verifies, reporting each one skipped; empty when there is none. */
    public java.util.Optional<Path> newestValid(Consumer<String> log) {
        for (Path checkpoint : list()) {
            if (verify(checkpoint) instanceof Verdict.Unusable unusable) {
                log.accept("checkpoint " + checkpoint + " is unusable (" + unusable.reason() + "); trying the "
                        + "previous one");
                continue;
            }
            return java.util.Optional.of(checkpoint);
        }
        return java.util.Optional.empty();
    }

    /** Deletes all but the newest {@code keep} checkpoints. */
    public void prune(int keep) {
        List<Path> all = list();
        for (int i = keep; i < all.size(); i++) {
            try {
                deleteTree(all.get(i));
            } catch (IOException e) {
                throw new LongctxException(all.get(i) + ": cannot delete old checkpoint (" + e.getMessage() + ")");
            }
        }
    }

    /** The identity of the packed store the checkpoint's data position refers to (empty for older checkpoints). */
    public static String storeIdentity(Path checkpoint) {
        try {
            return new ObjectMapper().readTree(checkpoint.resolve(MANIFEST).toFile()).path("store").asText("");
        } catch (IOException e) {
            throw new LongctxException(checkpoint.resolve(MANIFEST) + ": unreadable (" + e.getMessage() + ")");
        }
    }

    public static TrainingState readState(Path checkpoint) {
        try {
            return TrainingState.fromJson(new ObjectMapper().readTree(checkpoint.resolve("state.json").toFile()));
        } catch (IOException e) {
            throw new LongctxException(checkpoint.resolve("state.json") + ": unreadable (" + e.getMessage() + ")");
        }
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        List<Path> paths = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(paths::add);
        }
        for (Path p : paths) {
            Files.delete(p);
        }
    }
}
