package io.longctx.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Resident memory of this process from /proc (Linux), in MiB; -1 where unavailable. */
public final class Memory {
    private Memory() {
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
