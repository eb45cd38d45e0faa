package io.longctx.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class LrScheduleTest {

    @Test
    void warmupThenLinearDecayToFloor() {
        LrSchedule s = new LrSchedule(1.0, 10, 110, TrainConfig.Schedule.LINEAR, 0.1, 0);
        assertEquals(0.1, s.at(1), 1e-12);
        assertEquals(0.5, s.at(5), 1e-12);
        assertEquals(1.0, s.at(10), 1e-12);
        assertEquals(1.0 - 0.9 * 0.5, s.at(60), 1e-12);
        assertEquals(0.1, s.at(110), 1e-12);
    }

    @Test
    void cosineHalfwayIsTheMidpoint() {
        LrSchedule s = new LrSchedule(2.0, 0, 100, TrainConfig.Schedule.COSINE, 0.0, 0);
        assertEquals(1.0, s.at(50), 1e-12);
        assertEquals(2.0 * 0.5 * (1 + Math.cos(Math.PI * 0.25)), s.at(25), 1e-12);
        assertEquals(0.0, s.at(100), 1e-12);
    }

    @Test
    void constantAfterWarmup() {
        LrSchedule s = new LrSchedule(3e-4, 4, 50, TrainConfig.Schedule.CONSTANT, 0.0, 0);
        assertEquals(1.5e-4, s.at(2), 1e-15);
        assertEquals(3e-4, s.at(30), 1e-15);
        assertEquals(3e-4, s.at(50), 1e-15);
    }

    @Test
    void warmupStableDecayHoldsThePeakUntilItsLastSteps() {
        // 10 warm-up steps, the peak through step 80, then 20 steps down to 0.1 x peak
        LrSchedule s = new LrSchedule(2.0, 10, 100, TrainConfig.Schedule.WSD, 0.1, 20);
        assertEquals(1.0, s.at(5), 1e-12);
        assertEquals(2.0, s.at(11), 1e-12);
        assertEquals(2.0, s.at(80), 1e-12);
        assertEquals(2.0 - 1.8 * 0.5, s.at(90), 1e-12);
        assertEquals(0.2, s.at(100), 1e-12);
    }
}
