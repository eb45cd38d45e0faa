package io.longctx.data.pack;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Packs documents without cutting short ones: documents longer than L become L-token windows (consecutive windows
 * share {@code overlap} tokens) and the leftover piece joins the short documents; every buffer of pieces is packed
 * best-fit-decreasing into L-token bins, padded at the end. Output is deterministic: bins in creation order.
 */
public final class BinPacker implements Packer {
    private final int seqLen;
    private final int overlap;
    private final int padId;
    private final int bufferSize;
    private final Consumer<PackedSequence> sink;
    private final PackStats stats;
    private final List<int[]> pending = new ArrayList<>();

    BinPacker(int seqLen, int overlap, int padId, int bufferSize, Consumer<PackedSequence> sink, PackStats stats) {
        this.seqLen = seqLen;
        this.overlap = overlap;
        this.padId = padId;
        this.bufferSize = bufferSize;
        this.sink = sink;
        this.stats = stats;
    }

    @Override
    public void add(int[] framed, int framing) {
        stats.documentsKept++;
        stats.tokensIn += framed.length - framing;
        stats.framingTokens += framing;
        int start = 0;
        while (framed.length - start > seqLen) {
            int[] window = new int[seqLen];
            System.arraycopy(framed, start, window, 0, seqLen);
            emit(window, seqLen, new int[] {0});
            if (start > 0) {
                stats.overlapTokens += overlap;
            }
            start += seqLen - overlap;
        }
        if (start > 0) {
            stats.overlapTokens += overlap;
        }
        int[] piece = new int[framed.length - start];
        System.arraycopy(framed, start, piece, 0, piece.length);
        pending.add(piece);
        if (pending.size() >= bufferSize) {
            flush();
        }
    }

    private static final class Bin {
        final int[] tokens;
        final List<Integer> starts = new ArrayList<>();
        int used;

        Bin(int seqLen) {
            tokens = new int[seqLen];
        }
    }

    private void flush() {
        List<int[]> pieces = new ArrayList<>(pending);
        pending.clear();
        pieces.sort(Comparator.comparingInt((int[] p) -> p.length).reversed());
        List<Bin> bins = new ArrayList<>();
        TreeMap<Integer, Deque<Bin>> byRoom = new TreeMap<>();
        for (int[] piece : pieces) {
            var entry = byRoom.ceilingEntry(piece.length);
            Bin bin;
            if (entry == null) {
                bin = new Bin(seqLen);
                bins.add(bin);
            } else {
                bin = entry.getValue().pollFirst();
                if (entry.getValue().isEmpty()) {
                    byRoom.remove(entry.getKey());
                }
            }
            bin.starts.add(bin.used);
            System.arraycopy(piece, 0, bin.tokens, bin.used, piece.length);
            bin.used += piece.length;
            int room = seqLen - bin.used;
            if (room > 0) {
                byRoom.computeIfAbsent(room, r -> new ArrayDeque<>()).addLast(bin);
            }
        }
        for (Bin bin : bins) {
            for (int t = bin.used; t < seqLen; t++) {
                bin.tokens[t] = padId;
            }
            emit(bin.tokens, bin.used, bin.starts.stream().mapToInt(Integer::intValue).toArray());
        }
    }

    private void emit(int[] tokens, int used, int[] starts) {
        sink.accept(new PackedSequence(tokens, used, starts));
        stats.tokensPacked += used;
        stats.paddingTokens += seqLen - used;
        stats.sequences++;
    }

    @Override
    public void finish() {
        if (!pending.isEmpty()) {
            flush();
        }
    }
}
