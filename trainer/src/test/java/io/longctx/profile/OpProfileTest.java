package io.longctx.profile;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class OpProfileTest {
    /** Events as libtorch writes them: a callee is listed before its caller (in the order ranges close). */
    private static final String TRACE = """
            [
              {"name": "aten::copy_", "ph": "X", "ts": 15, "dur": 10, "tid": 1, "cpu mem": "100 b"},
              {"name": "aten::to", "ph": "X", "ts": 10, "dur": 30, "tid": 1, "cpu mem": "600 b"},
              {"name": "aten::mm", "ph": "X", "ts": 50, "dur": 10, "tid": 1, "cpu mem": "0 b"},
              {"name": "aten::linear", "ph": "X", "ts": 0, "dur": 100, "tid": 1, "cpu mem": "1000 b"},
              {"name": "aten::mm", "ph": "X", "ts": 200, "dur": 30, "tid": 1, "cpu mem": "2.00 Kb"},
              {"name": "MmBackward0", "ph": "X", "ts": 5, "dur": 45, "tid": 2, "cpu mem": "0 b"},
              {"name": "ProfilerStep", "ph": "i", "ts": 0, "tid": 1}
            ]
            """;

    @Test
    void selfTimeIsDurationLessCallees() throws Exception {
        OpProfile profile = OpProfile.of(OpProfile.events(new ObjectMapper().readTree(TRACE)), 300);
        Map<String, OpProfile.OpTotal> ops = profile.ops().stream()
                .collect(Collectors.toMap(OpProfile.OpTotal::name, Function.identity()));
        // linear [0,100] calls to [10,40] (which calls copy_ [15,25]) and mm [50,60]: 100 - 30 - 10
        assertEquals(60, ops.get("aten::linear").selfMicros(), 1e-9);
        assertEquals(20, ops.get("aten::to").selfMicros(), 1e-9);
        assertEquals(10, ops.get("aten::copy_").selfMicros(), 1e-9);
        assertEquals(2, ops.get("aten::mm").calls());
        assertEquals(40, ops.get("aten::mm").selfMicros(), 1e-9);
        assertEquals(45, ops.get("MmBackward0").selfMicros(), 1e-9);
        assertEquals(400, ops.get("aten::linear").selfAllocatedBytes());
        assertEquals(500, ops.get("aten::to").selfAllocatedBytes());
        assertEquals(2048, ops.get("aten::mm").selfAllocatedBytes());
        assertEquals("aten::linear", profile.ops().get(0).name(), "sorted by self time");
        // top-level time on each thread: 100 + 30 on thread 1, 45 on thread 2
        assertEquals(300 - 175, profile.outsideOpsMicros(), 1e-9);
        Map<String, Double> categories = profile.byCategory();
        assertEquals(60 + 40, categories.get("matmul"), 1e-9);
        assertEquals(30, categories.get("copy, cast, fill"), 1e-9);
        assertEquals(45, categories.get("autograd bookkeeping"), 1e-9);
    }

    @Test
    void memoryStringsAsLibtorchFormatsThem() {
        assertEquals(0, OpProfile.parseBytes("0 b"));
        assertEquals(8, OpProfile.parseBytes("8 b"));
        assertEquals(262_144, OpProfile.parseBytes("256.00 Kb"));
        assertEquals(-16L << 20, OpProfile.parseBytes("-16.00 Mb"));
        assertEquals(3L << 29, OpProfile.parseBytes("1.50 Gb"));
        assertEquals(0, OpProfile.parseBytes("garbage"));
    }

    @Test
    void categories() {
        assertEquals(OpProfile.Category.ATTENTION,
                OpProfile.category("aten::_scaled_dot_product_flash_attention_for_cpu_backward"));
        assertEquals(OpProfile.Category.MATMUL, OpProfile.category("aten::addmm"));
        assertEquals(OpProfile.Category.COPY, OpProfile.category("aten::_to_copy"));
        assertEquals(OpProfile.Category.VIEWS, OpProfile.category("aten::transpose"));
        assertEquals(OpProfile.Category.ELEMENTWISE, OpProfile.category("aten::mul"));
        assertEquals(OpProfile.Category.AUTOGRAD,
                OpProfile.category("autograd::engine::evaluate_function: MulBackward0"));
    }
}
