package io.longctx.profile;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.LongctxException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Where the time of a profiled step goes, from the Chrome trace that libtorch's profiler writes: per operator the
 * calls, the self time (its duration less that of the operators it called), and the bytes it allocated itself; per
 * category (matrix multiply, attention, copies and casts, element-wise, optimizer, autograd bookkeeping) the share of
 * self time; and the time of the step spent outside any operator (the Java side and JNI).
 */
public record OpProfile(List<OpTotal> ops, double wallMicros, double insideOpsMicros) {

    /** What self time is booked under, in the order reports show it. */
    public enum Category {
        MATMUL("matmul"),
        ATTENTION("attention"),
        ELEMENTWISE("element-wise, reductions"),
        COPY("copy, cast, fill"),
        OPTIMIZER("optimizer"),
        AUTOGRAD("autograd bookkeeping"),
        VIEWS("views, shape");

        private final String label;

        Category(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    /** One operator name's totals over the profiled step. */
    public record OpTotal(String name, Category category, int calls, double selfMicros, long selfAllocatedBytes) {
    }

    /** One complete ("X") trace event. */
    public record TraceEvent(String name, long thread, double start, double duration, long allocatedBytes) {
        double end() {
            return start + duration;
        }
    }

    public static OpProfile read(Path trace, double wallMicros) {
        try {
            return of(events(new ObjectMapper().readTree(trace.toFile())), wallMicros);
        } catch (IOException e) {
            throw new LongctxException("cannot read profiler trace " + trace + ": " + e.getMessage());
        }
    }

    static List<TraceEvent> events(JsonNode trace) {
        JsonNode list = trace.isArray() ? trace : trace.path("traceEvents");
        List<TraceEvent> events = new ArrayList<>();
        for (JsonNode e : list) {
            if (!"X".equals(e.path("ph").asText())) {
                continue;
            }
            events.add(new TraceEvent(e.path("name").asText(), e.path("tid").asLong(), e.path("ts").asDouble(),
                    e.path("dur").asDouble(), parseBytes(e.path("cpu mem").asText("0 b"))));
        }
        return events;
    }

    /**
     * Nests each thread's events by time (an event inside another's interval is its callee) and sums self time and
     * self allocation per operator name.
     */
    public static OpProfile of(List<TraceEvent> events, double wallMicros) {
        List<TraceEvent> sorted = new ArrayList<>(events);
        sorted.sort(Comparator.comparingLong(TraceEvent::thread).thenComparingDouble(TraceEvent::start)
                .thenComparing(Comparator.comparingDouble(TraceEvent::duration).reversed()));
        Map<String, double[]> time = new LinkedHashMap<>();       // name -> {calls, self micros}
        Map<String, Long> bytes = new LinkedHashMap<>();
        double topLevel = 0;
        Deque<Frame> stack = new ArrayDeque<>();
        long thread = Long.MIN_VALUE;
        for (TraceEvent e : sorted) {
            if (e.thread() != thread) {
                closeAll(stack, time, bytes);
                thread = e.thread();
            }
            while (!stack.isEmpty() && stack.peek().event.end() <= e.start()) {
                close(stack.pop(), time, bytes);
            }
            if (stack.isEmpty()) {
                topLevel += e.duration();
            } else {
                stack.peek().childMicros += e.duration();
                stack.peek().childBytes += e.allocatedBytes();
            }
            stack.push(new Frame(e));
        }
        closeAll(stack, time, bytes);
        List<OpTotal> ops = new ArrayList<>();
        time.forEach((name, t) -> ops.add(new OpTotal(name, category(name), (int) t[0], t[1],
                bytes.getOrDefault(name, 0L))));
        ops.sort(Comparator.comparingDouble(OpTotal::selfMicros).reversed());
        return new OpProfile(List.copyOf(ops), wallMicros, topLevel);
    }

    private static final class Frame {
        final TraceEvent event;
        double childMicros;
        long childBytes;

        Frame(TraceEvent event) {
            this.event = event;
        }
    }

    private static void closeAll(Deque<Frame> stack, Map<String, double[]> time, Map<String, Long> bytes) {
        while (!stack.isEmpty()) {
            close(stack.pop(), time, bytes);
        }
    }

    private static void close(Frame f, Map<String, double[]> time, Map<String, Long> bytes) {
        double[] t = time.computeIfAbsent(f.event.name(), k -> new double[2]);
        t[0] += 1;
        t[1] += Math.max(0, f.event.duration() - f.childMicros);
        bytes.merge(f.event.name(), f.event.allocatedBytes() - f.childBytes, Long::sum);
    }

    /** libtorch's memory strings: "0 b", "8 b", "256.00 Kb", "-16.00 Mb", "1.50 Gb". */
    static long parseBytes(String text) {
        String[] parts = text.trim().split("\\s+");
        if (parts.length != 2) {
            return 0;
        }
        double value;
        try {
            value = Double.parseDouble(parts[0]);
        } catch (NumberFormatException e) {
            return 0;
        }
        double unit = switch (parts[1].toLowerCase(Locale.ROOT)) {
            case "kb" -> 1024.0;
            case "mb" -> 1024.0 * 1024;
            case "gb" -> 1024.0 * 1024 * 1024;
            default -> 1;
        };
        return Math.round(value * unit);
    }

    /** The category an operator's self time is booked under. */
    static Category category(String name) {
        String op = name.startsWith("aten::") ? name.substring(6) : name;
        if (name.contains("scaled_dot_product") || name.contains("flash_attention")
                || name.contains("efficient_attention") || name.contains("forward_method") || name.contains("Sdpa")) {
            return Category.ATTENTION;
        }
        if (op.matches("(mm|addmm|bmm|baddbmm|matmul|linear|_mkldnn.*|mkldnn_.*)")) {
            return Category.MATMUL;
        }
        if (op.matches("(copy_|contiguous|clone|cat|to|_to_copy|empty_like|stack|index_select|embedding_dense_backward"
                + "|embedding|gather|scatter_add_|index_add_|slice_backward|select_backward|fill_|zero_|zeros|ones"
                + "|zeros_like|ones_like|new_zeros|detach_|detach)")) {
            return Category.COPY;
        }
        if (op.contains("adam") || op.startsWith("_foreach")) {
            return Category.OPTIMIZER;
        }
        if (name.startsWith("autograd::") || name.endsWith("Backward0") || name.endsWith("Backward1")
                || name.contains("AccumulateGrad")) {
            return Category.AUTOGRAD;
        }
        if (op.matches("(view|reshape|_reshape_alias|transpose|t|permute|expand|unsqueeze|squeeze|as_strided|select"
                + "|slice|split|narrow|alias|resolve_conj|resolve_neg|empty|empty_strided|_unsafe_view"
                + "|unflatten|lift_fresh|result_type)")) {
            return Category.VIEWS;
        }
        return Category.ELEMENTWISE;
    }

    /** Self time per category, largest first, in microseconds. */
    public Map<String, Double> byCategory() {
        Map<String, Double> totals = new LinkedHashMap<>();
        for (OpTotal op : ops) {
            totals.merge(op.category().label(), op.selfMicros(), Double::sum);
        }
        Map<String, Double> sorted = new LinkedHashMap<>();
        totals.entrySet().stream().sorted(Map.Entry.<String, Double>comparingByValue().reversed())
                .forEach(e -> sorted.put(e.getKey(), e.getValue()));
        return sorted;
    }

    /** Time of the step not inside any operator: Java, JNI and waiting, in microseconds. */
    public double outsideOpsMicros() {
        return Math.max(0, wallMicros - insideOpsMicros);
    }

    /** A JSON-ready summary: categories, the top operators, and time outside operators. */
    public Map<String, Object> summary(int topOps) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("wall_s", wallMicros / 1e6);
        m.put("outside_ops_s", outsideOpsMicros() / 1e6);
        Map<String, Object> categories = new LinkedHashMap<>();
        byCategory().forEach((k, v) -> categories.put(k, v / 1e6));
        m.put("self_s_by_category", categories);
        List<Map<String, Object>> top = new ArrayList<>();
        for (OpTotal op : ops.subList(0, Math.min(topOps, ops.size()))) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("op", op.name());
            row.put("category", op.category().label());
            row.put("calls", op.calls());
            row.put("self_s", op.selfMicros() / 1e6);
            row.put("self_allocated_mib", op.selfAllocatedBytes() / (1024.0 * 1024));
            top.add(row);
        }
        m.put("top_ops", top);
        return m;
    }

    /** The summary as a table for people. */
    public String table(int topOps) {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "profiled step %.3f s; outside operators (Java, JNI) %.3f s (%.1f%%)%n",
                wallMicros / 1e6, outsideOpsMicros() / 1e6, 100 * outsideOpsMicros() / wallMicros));
        byCategory().forEach((k, v) -> s.append(String.format(Locale.ROOT, "  %-26s %9.3f s %6.1f%%%n", k, v / 1e6,
                100 * v / wallMicros)));
        s.append(String.format(Locale.ROOT, "  %-58s %7s %9s %6s %12s%n", "operator", "calls", "self s", "%",
                "alloc MiB"));
        for (OpTotal op : ops.subList(0, Math.min(topOps, ops.size()))) {
            s.append(String.format(Locale.ROOT, "  %-58s %7d %9.3f %5.1f%% %12.1f%n", abbreviate(op.name(), 58),
                    op.calls(), op.selfMicros() / 1e6, 100 * op.selfMicros() / wallMicros,
                    op.selfAllocatedBytes() / (1024.0 * 1024)));
        }
        return s.toString();
    }

    private static String abbreviate(String text, int width) {
        return text.length() <= width ? text : text.substring(0, width - 3) + "...";
    }
}
