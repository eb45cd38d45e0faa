package io.longctx.eval;

import io.longctx.LongctxException;
import io.longctx.data.TokenIdsFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.file.Files;
import java.nio.file.Path;

/** Turning command-line inputs (.ids files, text files, text strings) into token ids. */
public final class TokenInput {
    private TokenInput() {
    }

    /** Tokenizes text with the model's tokenizer and prepends BOS when the model has one, as HF Llama does. */
    public static int[] fromText(ModelSession session, String text, String what) {
        if (session.tokenizer == null) {
            throw new LongctxException(what + ": " + session.dir + " has no tokenizer.json; give token ids with "
                    + "--ids instead");
        }
        int[] ids = session.tokenizer.encode(text);
        Integer bos = session.bosId();
        if (bos == null) {
            return ids;
        }
        int[] withBos = new int[ids.length + 1];
        withBos[0] = bos;
        System.arraycopy(ids, 0, withBos, 1, ids.length);
        return withBos;
    }

    public static String readText(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new LongctxException(file + ": not found");
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPLACE)
                    .onUnmappableCharacter(CodingErrorAction.REPLACE)
                    .decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(file))).toString();
        } catch (CharacterCodingException e) {
            throw new LongctxException(file + ": not decodable as UTF-8");
        } catch (IOException e) {
            throw new LongctxException(file + ": cannot read (" + e.getMessage() + ")");
        }
    }

    /** A document for evaluation: .ids files as they are (a leading BOS removed), other files tokenized. */
    public static int[] document(ModelSession session, Path file) {
        if (TokenIdsFile.isIdsFile(file)) {
            int[] ids = TokenIdsFile.read(file);
            Integer bos = session.bosId();
            if (bos != null && ids.length > 0 && ids[0] == bos) {
                return java.util.Arrays.copyOfRange(ids, 1, ids.length);
            }
            return ids;
        }
        if (session.tokenizer == null) {
            throw new LongctxException(file + ": a text document needs the model's tokenizer.json, and "
                    + session.dir + " has none; give .ids files instead");
        }
        return session.tokenizer.encode(readText(file));
    }
}
