package io.longctx.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class TimingsTest {
    @Test
    void median_isTheMiddleValue_orTheMeanOfTheMiddleTwo() {
        assertEquals(2.0, Timings.median(new double[] {3, 1, 2}));
        assertEquals(4.0, Timings.median(new double[] {4.5, 3.5}), 1e-12);
        assertEquals(2.5, Timings.median(new double[] {9, 1, 2, 3}), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> Timings.median(new double[0]));
    }
}
