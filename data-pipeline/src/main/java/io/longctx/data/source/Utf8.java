package io.longctx.data.source;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/** UTF-8 decoding that replaces each malformed sequence with U+FFFD and counts how many it replaced. */
final class Utf8 {
    private Utf8() {
    }

    record Decoded(String text, long replaced) {
    }

    static Decoded decode(byte[] bytes, int offset, int length) {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes, offset, length);
        CharBuffer out = CharBuffer.allocate(length + 16);
        long replaced = 0;
        while (true) {
            CoderResult result = decoder.decode(in, out, true);
            if (result.isError()) {
                if (!out.hasRemaining()) {
                    out = grow(out);
                }
                out.put('\uFFFD');
                in.position(in.position() + result.length());
                replaced++;
            } else if (result.isOverflow()) {
                out = grow(out);
            } else {
                CoderResult flush = decoder.flush(out);
                if (flush.isOverflow()) {
                    out = grow(out);
                    continue;
                }
                break;
            }
        }
        out.flip();
        return new Decoded(out.toString(), replaced);
    }

    private static CharBuffer grow(CharBuffer out) {
        CharBuffer bigger = CharBuffer.allocate(out.capacity() * 2 + 16);
        out.flip();
        bigger.put(out);
        return bigger;
    }
}
