package io.longctx;

/**
 * A problem with the user's input (a file, a recipe key, a tensor) that is reported as one line and a non-zero
 * exit, never as a stack trace. The message names the offending file, key or tensor.
 */
public class LongctxException extends RuntimeException {
    public LongctxException(String message) {
        super(message);
    }

    public LongctxException(String message, Throwable cause) {
        super(message, cause);
    }
}
