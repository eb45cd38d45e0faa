package io.longctx.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SlidingWindowsTest {

    @org.junit.jupiter.api.Test
    void strideLongerThanWindow_isRejected() {
        org.junit.jupiter.api.Assertions.assertThrows(io.longctx.LongctxException.class,
                () -> SlidingWindows.plan(1000, 255, 256, 0));
        org.junit.jupiter.api.Assertions.assertThrows(io.longctx.LongctxException.class,
                () -> SlidingWindows.plan(1000, 256, 256, 1));
    }

    @ParameterizedTest(name = "n={0} span={1} stride={2} first={3}")
    @CsvSource({"1000, 255, 255, 0", "1000, 256, 255, 1", "1000, 511, 256, 0", "1000, 512, 256, 1", "300, 1024, 256, 0",
        "1023, 1023, 256, 0", "5000, 2047, 256, 1"})
    void everyScorableTokenScoredExactlyOnce(int n, int span, int stride, int first) {
        List<SlidingWindows.Window> windows = SlidingWindows.plan(n, span, stride, first);
        int[] counts = new int[n];
        for (SlidingWindows.Window w : windows) {
            assertTrue(w.end() - w.begin() <= span, "window never exceeds the span");
            assertTrue(w.scoreFrom() >= w.begin() + first, "a scored target has context in its window");
            for (int i = w.scoreFrom(); i < w.end(); i++) {
                counts[i]++;
            }
        }
        for (int i = 0; i < n; i++) {
            assertEquals(i < first ? 0 : 1, counts[i], "token " + i);
        }
        assertEquals(n, windows.get(windows.size() - 1).end());
    }

    @ParameterizedTest(name = "n={0} span={1}")
    @CsvSource({"1000, 100, 0", "1000, 100, 1", "99, 100, 0"})
    void disjointWindowsAreFullLength(int n, int span, int first) {
        List<SlidingWindows.Window> windows = SlidingWindows.disjoint(n, span, first);
        assertEquals(n / span, windows.size());
        for (SlidingWindows.Window w : windows) {
            assertEquals(span, w.end() - w.begin());
            assertEquals(span - first, w.scored());
        }
    }
}
