package io.longctx.data;

import io.longctx.LongctxException;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/** Reads and writes {@code .ids} files: token ids as decimal integers separated by whitespace. */
public final class TokenIdsFile {
    public static final String EXTENSION = ".ids";

    private TokenIdsFile() {
    }

    public static boolean isIdsFile(Path path) {
        return path.getFileName().toString().endsWith(EXTENSION);
    }

    public static int[] read(Path path) {
        if (!Files.isRegularFile(path)) {
            throw new LongctxException(path + ": not found");
        }
        int[] ids = new int[1024];
        int n = 0;
        try (BufferedReader reader = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
            String line;
            int lineNumber = 0;
            while ((line = reader.readLine()) != null) {
                lineNumber++;
                for (String token : line.trim().split("\\s+")) {
                    if (token.isEmpty()) {
                        continue;
                    }
                    int id;
                    try {
                        id = Integer.parseInt(token);
                    } catch (NumberFormatException e) {
                        throw new LongctxException(path + ":" + lineNumber + ": '" + abbreviate(token)
                                + "' is not a token id (expected whitespace-separated non-negative integers)");
                    }
                    if (id < 0) {
                        throw new LongctxException(path + ":" + lineNumber + ": negative token id " + id);
                    }
                    if (n == ids.length) {
                        ids = Arrays.copyOf(ids, ids.length * 2);
                    }
                    ids[n++] = id;
                }
            }
        } catch (IOException e) {
            throw new LongctxException(path + ": cannot read (" + e.getMessage() + ")");
        }
        if (n == 0) {
            throw new LongctxException(path + ": holds no token ids");
        }
        return Arrays.copyOf(ids, n);
    }

    public static void write(Path path, int[] ids) {
        StringBuilder text = new StringBuilder(ids.length * 4);
        for (int i = 0; i < ids.length; i++) {
            text.append(ids[i]).append(i % 32 == 31 || i == ids.length - 1 ? '\n' : ' ');
        }
        try {
            Files.writeString(path, text, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new LongctxException(path + ": cannot write (" + e.getMessage() + ")");
        }
    }

    private static String abbreviate(String token) {
        return token.length() > 20 ? token.substring(0, 20) + "..." : token;
    }
}
