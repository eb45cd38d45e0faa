package io.longctx.data.pack;

import java.util.function.Consumer;

/** Turns framed documents into target-length sequences, streaming. */
public sealed interface Packer permits ConcatPacker, BinPacker {

    /**
     * @param framed the document's tokens with its BOS/EOS/separator already added
     * @param framing how many of those tokens are framing (for the statistics)
     */
    void add(int[] framed, int framing);

    /** Flushes what is buffered; the concat packer drops (and counts) a last partial sequence. */
    void finish();

    static Packer create(PackingConfig config, int padId, Consumer<PackedSequence> sink, PackStats stats) {
        return config.mode() == PackingConfig.Mode.CONCAT ? new ConcatPacker(config.seqLen(), sink, stats)
                : new BinPacker(config.seqLen(), config.overlap(), padId, config.binBuffer(), sink, stats);
    }
}
