package io.longctx.data.sample;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SequenceSamplerTest {

    @Test
    void eachEpochIsAPermutation_andEpochsDiffer() {
        SequenceSampler sampler = new SequenceSampler(50, 7);
        List<Long> first = new ArrayList<>();
        List<Long> second = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            first.add(sampler.next());
        }
        for (int i = 0; i < 50; i++) {
            second.add(sampler.next());
        }
        assertEquals(50, new HashSet<>(first).size());
        assertEquals(50, new HashSet<>(second).size());
        assertNotEquals(first, second);
        assertEquals(1, sampler.epoch());
    }

    @Test
    void resumingFromAnyCursor_reproducesTheUninterruptedOrder() {
        int size = 37;
        SequenceSampler reference = new SequenceSampler(size, 99);
        List<Long> expected = new ArrayList<>();
        List<SequenceSampler.Cursor> cursors = new ArrayList<>();
        for (int i = 0; i < 3 * size + 5; i++) {
            cursors.add(reference.cursor());
            expected.add(reference.next());
        }
        Set<Integer> checkpoints = Set.of(0, 1, 36, 37, 38, 74, 100);
        for (int k : checkpoints) {
            SequenceSampler resumed = new SequenceSampler(size, cursors.get(k));
            for (int i = k; i < expected.size(); i++) {
                assertEquals(expected.get(i), resumed.next(), "resumed at " + k + ", draw " + i);
            }
        }
    }

    @Test
    void sameSeedSameOrder_otherSeedOtherOrder() {
        SequenceSampler a = new SequenceSampler(100, 1);
        SequenceSampler b = new SequenceSampler(100, 1);
        SequenceSampler c = new SequenceSampler(100, 2);
        List<Long> la = new ArrayList<>();
        List<Long> lc = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            long x = a.next();
            assertEquals(x, b.next());
            la.add(x);
            lc.add(c.next());
        }
        assertNotEquals(la, lc);
    }
}
