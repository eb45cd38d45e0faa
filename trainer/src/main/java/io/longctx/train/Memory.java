package io.longctx.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Resident memory of this process from /proc (Linux), and a CUDA device's memory in use, in MiB; -1 where
 * unavailable.
 */
public final class Memory {
    private Memory() {
    }

    /**
     * Memory in use on a CUDA device (total minus free, as the driver reports it: PyTorch's caching allocator's
     * reserved blocks included, which is what decides whether the next allocation fits); -1 on CPU.
     */
    public static long deviceUsedMiB(ai.djl.Device device) {
        if (!device.isGpu()) {
            return -1;
        }
        try {
            return ai.djl.util.cuda.CudaUtils.getGpuMemory(device).getUsed() >> 20;
        } catch (RuntimeException | LinkageError e) {
            return -1;
        }
    }

    public static long residentMiB() {
        return statusField("VmRSS:");
    }

    /** The high-water mark of resident memory since the process started. */
    public static long peakResidentMiB() {
        return statusField("VmHWM:");
    }

    /**
     * The malloc implementation mapped into this process: "tcmalloc" or "jemalloc" when preloaded (the launcher does
     * this, see scripts/longctx), else "glibc". It decides how much freed tensor memory stays resident.
     */
    public static String allocator() {
        try {
            String maps = Files.readString(Path.of("/proc/self/maps"));
            if (maps.contains("tcmalloc")) {
                return "tcmalloc";
            }
            if (maps.contains("jemalloc")) {
                return "jemalloc";
            }
            return "glibc";
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static long statusField(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(field)) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}
