package io.longctx.distributed;

import com.sun.jna.Library;
import com.sun.jna.Native;
import io.longctx.LongctxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The native bridge to c10d (native/c10d, built by scripts/build-c10d-shim.sh): creates the store and the process
 * group inside the libtorch DJL loaded and registers it by name. Loaded after the engine, and refused when the
 * object layouts it was compiled with differ from that libtorch's.
 */
final class C10dShim {
    static final String PROPERTY = "longctx.c10d.shim";
    private static final int ERROR_CAPACITY = 1024;
    private static Native_ bound;

    interface Native_ extends Library {
        int longctx_c10d_check_layout(byte[] error, int capacity);

        int longctx_c10d_init(String group, String storeKind, String address, int port, int rank, int worldSize,
                int timeoutMs, int cudaDevice, byte[] error, int capacity);

        int longctx_c10d_destroy(String group, byte[] error, int capacity);
    }

    private C10dShim() {
    }

    /** The shim's path: -Dlongctx.c10d.shim, LONGCTX_C10D_SHIM, or .cache/c10d under the working directory. */
    static Path location() {
        String path = System.getProperty(PROPERTY, System.getenv("LONGCTX_C10D_SHIM"));
        return Path.of(path != null ? path : ".cache/c10d/liblongctx_c10d.so").toAbsolutePath();
    }

    /** Whether the shim has been built (multi-process tests skip without it). */
    static boolean available() {
        return Files.isRegularFile(location());
    }

    static synchronized Native_ get() {
        if (bound != null) {
            return bound;
        }
        Path file = location();
        if (!Files.isRegularFile(file)) {
            throw new LongctxException("more than one process needs the c10d shim, which is not built (" + file
                    + "): run scripts/build-c10d-shim.sh");
        }
        ai.djl.ndarray.NDManager.newBaseManager().close();          // libtorch first: the shim links against it
        Native_ shim;
        try {
            shim = Native.load(file.toString(), Native_.class);
        } catch (UnsatisfiedLinkError e) {
            throw new LongctxException(file + ": cannot load the c10d shim (" + e.getMessage() + ")");
        }
        byte[] error = new byte[ERROR_CAPACITY];
        if (shim.longctx_c10d_check_layout(error, error.length) != 0) {
            throw new LongctxException(file + ": " + text(error));
        }
        bound = shim;
        return shim;
    }

    static String text(byte[] error) {
        int end = 0;
        while (end < error.length && error[end] != 0) {
            end++;
        }
        return new String(error, 0, end, StandardCharsets.UTF_8);
    }
}
