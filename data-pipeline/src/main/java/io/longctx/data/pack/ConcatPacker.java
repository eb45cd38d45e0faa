package io.longctx.data.pack;

import java.util.Arrays;
import java.util.function.Consumer;

/**
 * Joins documents end to end and cuts the stream into exact L-token sequences, as the YaRN paper does. Document
 * starts are recorded so the trainer can reset positions and mask attention per document when asked to.
 */
public final class ConcatPacker implements Packer {
    private final int seqLen;
    private final Consumer<PackedSequence> sink;
    private final PackStats stats;
    private int[] buffer;
    private int filled;
    private int[] starts = new int[8];
    private int startCount;

    ConcatPacker(int seqLen, Consumer<PackedSequence> sink, PackStats stats) {
        this.seqLen = seqLen;
        this.sink = sink;
        this.stats = stats;
        this.buffer = new int[seqLen];
    }

    @Override
    public void add(int[] framed, int framing) {
        stats.documentsKept++;
        stats.tokensIn += framed.length - framing;
        stats.framingTokens += framing;
        markStart(filled);
        int offset = 0;
        while (offset < framed.length) {
            int n = Math.min(seqLen - filled, framed.length - offset);
            System.arraycopy(framed, offset, buffer, filled, n);
            filled += n;
            offset += n;
            if (filled == seqLen) {
                emit();
            }
        }
    }

    private void markStart(int position) {
        if (position >= seqLen) {
            return;
        }
        if (startCount == starts.length) {
            starts = Arrays.copyOf(starts, starts.length * 2);
        }
        starts[startCount++] = position;
    }

    private void emit() {
        sink.accept(new PackedSequence(buffer, seqLen, Arrays.copyOf(starts, startCount)));
        stats.tokensPacked += seqLen;
        stats.sequences++;
        buffer = new int[seqLen];
        filled = 0;
        startCount = 0;
    }

    @Override
    public void finish() {
        stats.droppedTail += filled;
        filled = 0;
        startCount = 0;
    }
}
