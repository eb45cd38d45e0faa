package io.longctx.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.longctx.Closing;
import io.longctx.LongctxException;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import org.yaml.snakeyaml.Yaml;

/**
 * A run's folder: the lock that keeps a second training off it, the resolved recipe, the metrics files, the
 * checkpoints, the decision whether and from where to resume (refusing a recipe that changed the trajectory), and
 * the preemption timing a batch launcher reads.
 */
public final class RunFolder implements AutoCloseable {
    public static final String LOCK = "train.lock";
    public static final String PREEMPTION = "preemption.json";
    private static final List<String> METRICS = List.of("metrics.csv", "metrics.jsonl", "eval.csv", "eval.jsonl");

    private final Path dir;
    private final Checkpoints checkpoints;
    private final FileChannel lockChannel;
    private final FileLock lock;

    private RunFolder(Path dir, FileChannel lockChannel, FileLock lock) {
        this.dir = dir;
        this.checkpoints = new Checkpoints(dir);
        this.lockChannel = lockChannel;
        this.lock = lock;
    }

    /**
     * Creates the folder and takes its lock; a second training on the same folder is refused with the holder's pid
     * and host. The lock is the operating system's, so a killed holder never leaves it behind.
     */
    public static RunFolder open(Path dir) {
        Path file = dir.resolve(LOCK);
        FileChannel channel = null;
        try {
            Files.createDirectories(dir);
            channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
            FileLock lock = channel.tryLock();
            if (lock == null) {
                String holder = Files.readString(file, StandardCharsets.UTF_8).trim();
                channel.close();
                throw new LongctxException(dir + ": another training holds this run folder (" + (holder.isEmpty()
                        ? "holder unknown" : holder) + "); wait for it to end or choose another output.dir");
            }
            channel.truncate(0);
            channel.write(ByteBuffer.wrap(("pid " + ProcessHandle.current().pid() + " on host " + hostName() + "\n")
                    .getBytes(StandardCharsets.UTF_8)), 0);
            channel.force(true);
            return new RunFolder(dir, channel, lock);
        } catch (IOException e) {
            Closing.quietly(channel);
            throw new LongctxException(dir + ": cannot prepare the run folder (" + e.getMessage() + ")");
        } catch (java.nio.channels.OverlappingFileLockException e) {
            Closing.quietly(channel);
            throw new LongctxException(dir + ": another training in this process holds this run folder");
        }
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "unknown";
        }
    }

    public Path dir() {
        return dir;
    }

    public Checkpoints checkpoints() {
        return checkpoints;
    }

    /** --restart: the run's checkpoints and metrics go; nothing else in the folder is touched. */
    public void clear() {
        try {
            Checkpoints.deleteTree(checkpoints.root());
            for (String name : METRICS) {
                Files.deleteIfExists(dir.resolve(name));
            }
        } catch (IOException e) {
            throw new LongctxException(dir + ": cannot clear the run (" + e.getMessage() + ")");
        }
    }

    public void writeResolvedRecipe(Recipe recipe) {
        try {
            Files.writeString(dir.resolve("recipe.resolved.yaml"), ResolvedRecipe.yaml(recipe));
        } catch (IOException e) {
            throw new LongctxException(dir + ": cannot write the resolved recipe (" + e.getMessage() + ")");
        }
    }

    /**
     * The newest valid checkpoint to resume from, after comparing the recipe it was written under with today's:
     * changes that cannot alter the run are applied, each logged; any other change is refused with the list of
     * differences and the ways forward.
     */
    public Optional<Path> resumePoint(Recipe recipe, Consumer<String> log) {
        Optional<Path> newest = checkpoints.newestValid(log);
        if (newest.isEmpty()) {
            return newest;
        }
        Path file = newest.get().resolve("recipe.yaml");
        Map<String, Object> before;
        try {
            before = new Yaml().load(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IOException | RuntimeException e) {
            throw new LongctxException(file + ": unreadable (" + e.getMessage() + "); resume needs the recipe the "
                    + "checkpoint was written under (or --restart)");
        }
        Map<String, Object> today = new Yaml().load(ResolvedRecipe.yaml(recipe.toMap()));
        RecipeChanges changes = RecipeChanges.between(before, today);
        if (!changes.refused().isEmpty()) {
            StringBuilder message = new StringBuilder(recipe.file() + ": the recipe changed since " + newest.get()
                    + " was written, in ways that alter the run:");
            changes.refused().forEach(c -> message.append("\n  ").append(c.describe()));
            message.append("\nEither start over with --restart, or start a new run from these weights with a fresh "
                    + "optimizer: a recipe whose model.path is ").append(newest.get())
                    .append(" and another output.dir.");
            throw new LongctxException(message.toString());
        }
        changes.applied().forEach(c -> log.accept("resume: applying " + c.describe()));
        return newest;
    }

    /**
     * Records how long a graceful stop takes (the slowest micro-batch plus the slowest checkpoint write) and the
     * signal lead time a batch launcher should give, with a margin.
     */
    public void writePreemptionTiming(double microBatchSeconds, double checkpointSeconds) {
        Map<String, Object> timing = new LinkedHashMap<>();
        timing.put("micro_batch_s", microBatchSeconds);
        timing.put("checkpoint_s", checkpointSeconds);
        timing.put("stop_within_s", microBatchSeconds + checkpointSeconds);
        timing.put("signal_lead_s", signalLead(microBatchSeconds, checkpointSeconds));
        try {
            Files.write(dir.resolve(PREEMPTION), new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValueAsBytes(timing));
        } catch (IOException e) {
            throw new LongctxException(dir.resolve(PREEMPTION) + ": cannot write (" + e.getMessage() + ")");
        }
    }

    /** Half as long again as a stop takes, plus a minute for the JVM's exit and the file system. */
    public static long signalLead(double microBatchSeconds, double checkpointSeconds) {
        return (long) Math.ceil(1.5 * (microBatchSeconds + checkpointSeconds)) + 60;
    }

    /** What an earlier session of this run measured, for the log at start. */
    public Optional<String> previousPreemptionTiming() {
        Path file = dir.resolve(PREEMPTION);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        try {
            var node = new ObjectMapper().readTree(file.toFile());
            return Optional.of(String.format(java.util.Locale.ROOT, "preemption: a graceful stop took up to %.1f s "
                    + "(micro-batch %.1f s + checkpoint %.1f s) last session; give the job a signal lead of %d s",
                    node.path("stop_within_s").asDouble(), node.path("micro_batch_s").asDouble(),
                    node.path("checkpoint_s").asDouble(), node.path("signal_lead_s").asLong()));
        } catch (IOException e) {
            throw new LongctxException(file + ": unreadable (" + e.getMessage() + ")");
        }
    }


    @Override
    public void close() {
        try {
            lock.release();
        } catch (IOException ignored) {
            // closing the channel releases it too
        }
        Closing.quietly(lockChannel);
    }
}
