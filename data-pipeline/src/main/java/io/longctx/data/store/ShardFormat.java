package io.longctx.data.store;

/**
 * Binary layout of a store shard (little-endian): a 32-byte header, then the tokens of every sequence (uint16 when
 * the vocabulary fits, else uint32), then per sequence the used-token count (int32), then the document-start index
 * as CSR: count+1 int32 pointers followed by the int32 offsets.
 *
 * <pre>
 * header: magic "LCTXSEQ1" | int32 version | int32 seqLen | int32 tokenBytes | int32 count | int64 docStarts
 * </pre>
 */
final class ShardFormat {
    static final byte[] MAGIC = {'L', 'C', 'T', 'X', 'S', 'E', 'Q', '1'};
    static final int VERSION = 1;
    static final int HEADER_BYTES = 32;

    private ShardFormat() {
    }

    static long tokensOffset() {
        return HEADER_BYTES;
    }

    static long usedOffset(int count, int seqLen, int tokenBytes) {
        return HEADER_BYTES + (long) count * seqLen * tokenBytes;
    }

    static long pointerOffset(int count, int seqLen, int tokenBytes) {
        return usedOffset(count, seqLen, tokenBytes) + 4L * count;
    }

    static long startsOffset(int count, int seqLen, int tokenBytes) {
        return pointerOffset(count, seqLen, tokenBytes) + 4L * (count + 1);
    }

    static long fileBytes(int count, int seqLen, int tokenBytes, long docStarts) {
        return startsOffset(count, seqLen, tokenBytes) + 4L * docStarts;
    }
}
