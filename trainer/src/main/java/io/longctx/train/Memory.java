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
