package io.longctx.profile;

import ai.djl.pytorch.jni.JniUtils;
import io.longctx.LongctxException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Runs a piece of work under libtorch's profiler (operator names, shapes, memory) and summarises the trace. */
public final class Profiler {
    private Profiler() {
    }

    /** Profiles {@code work}, writes the Chrome trace to {@code trace} (open it in Perfetto) and returns its summary. */
    public static OpProfile profile(Path trace, Runnable work) {
        try {
            Path parent = trace.toAbsolutePath().getParent();
            Files.createDirectories(parent);
        } catch (IOException e) {
            throw new LongctxException("cannot create the folder for profiler trace " + trace + ": " + e.getMessage());
        }
        JniUtils.startProfile(false, true, true);
        long start = System.nanoTime();
        long wall;
        try {
            work.run();
        } finally {
            wall = System.nanoTime() - start;
            JniUtils.stopProfile(trace.toAbsolutePath().toString());
        }
        if (!Files.isRegularFile(trace)) {
            throw new LongctxException("the profiler wrote no trace to " + trace);
        }
        return OpProfile.read(trace, wall / 1e3);
    }
}
