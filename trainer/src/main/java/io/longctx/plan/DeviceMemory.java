package io.longctx.plan;

import ai.djl.Device;
import ai.djl.util.cuda.CudaUtils;
import io.longctx.LongctxException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** How much memory a device has: a CUDA device's total, or on CPU the machine's physical memory. */
public final class DeviceMemory {
    private DeviceMemory() {
    }

    public static long of(Device device) {
        if (device.isGpu()) {
            return CudaUtils.getGpuMemory(device).getMax();
        }
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // below
        }
        return Runtime.getRuntime().maxMemory();
    }

    /** "80GiB", "141GB", "512MiB" (GB and GiB both mean 2^30 here, as device specifications are read). */
    public static long parse(String text) {
        Matcher m = Pattern.compile("(?i)\\s*(\\d+(?:\\.\\d+)?)\\s*([KMGT])I?B?\\s*").matcher(text);
        if (!m.matches()) {
            throw new LongctxException("--device-memory: expected a size like 80GiB or 141GB, got '" + text + "'");
        }
        int shift = switch (m.group(2).toUpperCase(Locale.ROOT)) {
            case "K" -> 10;
            case "M" -> 20;
            case "G" -> 30;
            default -> 40;
        };
        return (long) (Double.parseDouble(m.group(1)) * (1L << shift));
    }
}
