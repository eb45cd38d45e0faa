package io.longctx.data.tokenize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The byte-level tokenizer.json, loaded by the HF tokenizers library, maps each UTF-8 byte b to id 3 + b. */
class ByteLevelTokenizerTest {
    @TempDir
    Path tmp;

    @Test
    void everyByteIsOneToken_andDecodeRoundTrips() {
        String text = "Call me Ishmael.\n\tHé — 鯨 \u0000\u007f end";
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int[] expected = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            expected[i] = ByteLevelTokenizer.BYTE_OFFSET + (bytes[i] & 0xff);
        }
        try (TextTokenizer tokenizer = TextTokenizer.load(ByteLevelTokenizer.write(tmp))) {
            assertArrayEquals(expected, tokenizer.encode(text));
            assertEquals(text, tokenizer.decode(expected));
            assertEquals(ByteLevelTokenizer.VOCAB_SIZE, tokenizer.vocabSize());
            assertEquals(ByteLevelTokenizer.BOS_ID, tokenizer.tokenId("<s>"));
            assertEquals(ByteLevelTokenizer.EOS_ID, tokenizer.tokenId("</s>"));
            assertEquals(ByteLevelTokenizer.PAD_ID, tokenizer.tokenId("<pad>"));
        }
    }

    @Test
    void specialIds_comeFromTokenizerConfigBesideTheFile() {
        Path file = ByteLevelTokenizer.write(tmp);
        try (TextTokenizer tokenizer = TextTokenizer.load(file)) {
            TokenizerSpec.SpecialIds ids = new TokenizerSpec(file, null, null, null, true, false).resolve(tokenizer);
            assertEquals(1, ids.bos());
            assertEquals(2, ids.eos());
            assertEquals(0, ids.pad());
            assertEquals(true, ids.addBos());
            assertEquals(false, ids.addEos());
            TokenizerSpec.SpecialIds overridden = new TokenizerSpec(file, 5, 6, 7, true, true).resolve(tokenizer);
            assertEquals(5, overridden.bos());
            assertEquals(6, overridden.eos());
            assertEquals(7, overridden.pad());
        }
    }

    @Test
    void batchEncoding_matchesSingleEncoding() {
        try (TextTokenizer tokenizer = ByteLevelTokenizer.load()) {
            java.util.List<String> texts = java.util.List.of("a", "bb", "", "naïve");
            int[][] batch = tokenizer.encodeBatch(texts);
            for (int i = 0; i < texts.size(); i++) {
                assertArrayEquals(tokenizer.encode(texts.get(i)), batch[i]);
            }
        }
    }

    @Test
    void javaEncoding_equalsTheTokenizersLibrary_onVariedText() {
        java.util.SplittableRandom random = new java.util.SplittableRandom(7);
        java.util.List<String> texts = new java.util.ArrayList<>(java.util.List.of("", "a", "line\r\nnext\ttab",
                "\u0000 nul", "Hé — 鯨 🐋 whale", "key 12345. Remember it."));
        int[] ranges = {0x20, 0x7f, 0xa0, 0x800, 0x3000, 0xd7ff, 0x1f300, 0x1fa00};
        for (int t = 0; t < 200; t++) {
            StringBuilder text = new StringBuilder();
            for (int c = random.nextInt(60); c > 0; c--) {
                int r = 2 * random.nextInt(ranges.length / 2);
                text.appendCodePoint(ranges[r] + random.nextInt(ranges[r + 1] - ranges[r]));
            }
            texts.add(text.toString());
        }
        try (TextTokenizer tokenizer = TextTokenizer.load(ByteLevelTokenizer.write(tmp))) {
            int[][] batch = tokenizer.encodeBatch(texts);
            for (int i = 0; i < texts.size(); i++) {
                assertArrayEquals(tokenizer.encodeWithLibrary(texts.get(i)), ByteLevelTokenizer.encode(texts.get(i)),
                        texts.get(i));
                assertArrayEquals(tokenizer.encodeWithLibrary(texts.get(i)), batch[i], texts.get(i));
            }
            String lone = "half \ud83d pair";
            org.junit.jupiter.api.Assertions.assertNull(ByteLevelTokenizer.encode(lone));
            assertArrayEquals(tokenizer.encodeWithLibrary(lone), tokenizer.encode(lone));
        }
    }
}
