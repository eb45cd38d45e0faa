package io.longctx.plan;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A run's predicted peak memory per device and on the host, part by part, and whether it fits.
 *
 * @param deviceMemory bytes available on one device (on CPU: the machine's memory, which host parts share)
 * @param advice the changes that would make a run that does not fit fit, most effective first
 */
public record MemoryPlan(List<Part> parts, long devicePeak, long hostPeak, long deviceMemory, boolean fits,
        List<String> advice) {

    public enum Where {
        DEVICE, HOST
    }

    /** One part of the peak: a name, its bytes, and where they live. */
    public record Part(String name, long bytes, Where where) {
    }

    public MemoryPlan {
        parts = List.copyOf(parts);
        advice = List.copyOf(advice);
    }

    /** {"device_peak_bytes", "host_peak_bytes", "fits", "device_memory_bytes", "parts": {name: {bytes, where}}}. */
    public Map<String, Object> toMap() {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("device_peak_bytes", devicePeak);
        map.put("host_peak_bytes", hostPeak);
        map.put("device_memory_bytes", deviceMemory);
        map.put("fits", fits);
        Map<String, Object> byName = new LinkedHashMap<>();
        for (Part p : parts) {
            byName.put(p.name(), Map.of("bytes", p.bytes(), "where", p.where().name().toLowerCase(Locale.ROOT)));
        }
        map.put("parts", byName);
        map.put("advice", advice);
        return map;
    }

    public static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.2f GiB", bytes / 1073741824.0);
    }

    /** The table a person reads: each part, then the peaks and the verdict. */
    public String table() {
        StringBuilder out = new StringBuilder();
        for (Part p : parts) {
            out.append(String.format(Locale.ROOT, "  %-44s %6s %12s%n", p.name(),
                    p.where().name().toLowerCase(Locale.ROOT), gib(p.bytes())));
        }
        out.append(String.format(Locale.ROOT, "  %-44s %6s %12s of %s%n", "peak per device", "device",
                gib(devicePeak), gib(deviceMemory)));
        out.append(String.format(Locale.ROOT, "  %-44s %6s %12s%n", "peak on the host", "host", gib(hostPeak)));
        out.append(fits ? "  fits\n" : "  does not fit; " + String.join("; ", advice) + "\n");
        return out.toString();
    }
}
