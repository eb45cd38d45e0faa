package io.longctx;

/** Closing a resource on a path that is already failing, where the first error is the one to report. */
public final class Closing {
    private Closing() {
    }

    public static void quietly(AutoCloseable closeable) {
        if (closeable == null) {
            return;
        }
        try {
            closeable.close();
        } catch (Exception ignored) {
            // already failing; the first error is the one reported
        }
    }
}
