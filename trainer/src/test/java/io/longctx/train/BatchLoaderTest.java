package io.longctx.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longctx.LongctxException;
import io.longctx.data.pack.PackedSequence;
import io.longctx.data.sample.SequenceSampler;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The background loader hands the training thread every step in order, and any failure of its own, never a hang. */
class BatchLoaderTest {
    private static PackedSequence sequence(long index) {
        return new PackedSequence(new int[] {(int) index, 1, 2, 3}, 4, new int[] {0});
    }

    @Test
    void stepsComeInSamplerOrderWithTheCursorAfterEach() {
        SequenceSampler.Cursor start = new SequenceSampler.Cursor(3, 0, 0);
        SequenceSampler reference = new SequenceSampler(10, start);
        try (BatchLoader loader = new BatchLoader(10, BatchLoaderTest::sequence, start, 2, 3, 2)) {
            for (int step = 0; step < 2; step++) {
                BatchLoader.StepBatch batch = loader.next();
                assertEquals(3, batch.microBatches().size());
                for (var micro : batch.microBatches()) {
                    for (PackedSequence s : micro) {
                        assertEquals(reference.next(), s.tokens()[0]);
                    }
                }
                assertEquals(reference.cursor(), batch.cursorAfter());
            }
        }
    }

    @Test
    void anErrorInTheLoaderThread_stopsTheTrainingThreadWithOneLine() {
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
            try (BatchLoader loader = new BatchLoader(10, index -> {
                throw new OutOfMemoryError("Java heap space");
            }, new SequenceSampler.Cursor(1, 0, 0), 2, 2, 5)) {
                LongctxException e = assertThrows(LongctxException.class, loader::next);
                assertTrue(e.getMessage().contains("batch loader: OutOfMemoryError (Java heap space)"),
                        e.getMessage());
            }
        });
    }
}
