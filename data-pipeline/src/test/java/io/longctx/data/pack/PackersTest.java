package io.longctx.data.pack;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PackersTest {

    private static int[] doc(int id, int length) {
        int[] d = new int[length];
        for (int i = 0; i < length; i++) {
            d[i] = id * 1000 + i;
        }
        return d;
    }

    @Test
    void concat_cutsExactSequences_andAccountsForEveryToken() {
        List<PackedSequence> out = new ArrayList<>();
        PackStats stats = new PackStats();
        Packer packer = Packer.create(PackingConfig.concat(10), 0, out::add, stats);
        int[] lengths = {3, 12, 7, 1, 9};
        List<Integer> stream = new ArrayList<>();
        for (int i = 0; i < lengths.length; i++) {
            int[] d = doc(i + 1, lengths[i]);
            packer.add(d, 1);
            for (int t : d) {
                stream.add(t);
            }
        }
        packer.finish();
        assertEquals(3, out.size());
        for (int s = 0; s < out.size(); s++) {
            assertEquals(10, out.get(s).length());
            assertEquals(10, out.get(s).used());
            for (int t = 0; t < 10; t++) {
                assertEquals((int) stream.get(s * 10 + t), out.get(s).tokens()[t]);
            }
        }
        assertEquals(32 - 30, stats.droppedTail());
        assertEquals(stats.tokensPacked() + stats.droppedTail(), stats.tokensIn() + stats.framingTokens());
        // document starts: doc1 @0, doc2 @3 (seq 0); doc2 continues, doc3 @5 (seq 1); doc4 @2, doc5 @3 (seq 2)
        assertArrayEquals(new int[] {0, 3}, out.get(0).docStarts());
        assertArrayEquals(new int[] {5}, out.get(1).docStarts());
        assertArrayEquals(new int[] {2, 3}, out.get(2).docStarts());
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 0, 1, 2, 3, 4}, out.get(1).positionIds());
        assertArrayEquals(new int[] {0, 0, 0, 0, 0, 1, 1, 1, 1, 1}, out.get(1).documentIds());
    }

    @Test
    void bin_packsShortDocsBestFitWithPaddingMaskedOut() {
        List<PackedSequence> out = new ArrayList<>();
        PackStats stats = new PackStats();
        PackingConfig config = new PackingConfig(PackingConfig.Mode.BIN, 10, true, 0, 0, new int[0], 100);
        Packer packer = Packer.create(config, -1, out::add, stats);
        for (int[] d : new int[][] {doc(1, 6), doc(2, 4), doc(3, 7), doc(4, 3), doc(5, 5)}) {
            packer.add(d, 0);
        }
        packer.finish();
        // best-fit decreasing: [7,3], [6,4], [5]
        assertEquals(3, out.size());
        assertEquals(10, out.get(0).used());
        assertEquals(10, out.get(1).used());
        assertEquals(5, out.get(2).used());
        assertArrayEquals(new int[] {0, 7}, out.get(0).docStarts());
        for (int t = 5; t < 10; t++) {
            assertEquals(-1, out.get(2).tokens()[t]);
        }
        assertArrayEquals(new int[] {1, 1, 1, 1, 0, 0, 0, 0, 0, 0}, out.get(2).lossMask());
        assertEquals(25, stats.tokensPacked());
        assertEquals(5, stats.paddingTokens());
        assertEquals(stats.tokensIn(), stats.tokensPacked());
    }

    @Test
    void bin_splitsLongDocumentsIntoOverlappingWindows() {
        List<PackedSequence> out = new ArrayList<>();
        PackStats stats = new PackStats();
        PackingConfig config = new PackingConfig(PackingConfig.Mode.BIN, 10, false, 0, 2, new int[0], 100);
        Packer packer = Packer.create(config, 0, out::add, stats);
        int[] d = doc(1, 25);
        packer.add(d, 0);
        packer.finish();
        // windows [0,10), [8,18), then the piece [16,25) of 9 tokens
        assertEquals(3, out.size());
        assertEquals(d[8], out.get(1).tokens()[0]);
        assertEquals(d[16], out.get(2).tokens()[0]);
        assertEquals(9, out.get(2).used());
        assertEquals(4, stats.overlapTokens());
        assertEquals(stats.tokensIn() + stats.overlapTokens(), stats.tokensPacked());
    }

    @Test
    void bin_randomDocuments_everySequenceFullLengthAndAccounted() {
        Random random = new Random(1);
        List<PackedSequence> out = new ArrayList<>();
        PackStats stats = new PackStats();
        PackingConfig config = new PackingConfig(PackingConfig.Mode.BIN, 64, true, 0, 8, new int[0], 16);
        Packer packer = Packer.create(config, 0, out::add, stats);
        for (int i = 0; i < 500; i++) {
            packer.add(doc(i, 1 + random.nextInt(200)), 0);
        }
        packer.finish();
        long used = 0;
        for (PackedSequence s : out) {
            assertEquals(64, s.length());
            assertTrue(s.used() >= 1 && s.used() <= 64);
            used += s.used();
        }
        assertEquals(stats.tokensPacked(), used);
        assertEquals(stats.tokensIn() + stats.overlapTokens(), stats.tokensPacked());
        assertTrue(stats.paddingTokens() < 0.2 * (stats.paddingTokens() + stats.tokensPacked()),
                "best fit keeps padding low: " + stats.toMap());
    }
}
