package io.longctx.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import io.longctx.engine.PrecisionOps;

/**
 * The output head and next-token NLL over chunks of positions: training, validation, {@code score} and {@code eval}
 * all go through here, so no (T, vocab) logits tensor of a whole long sequence ever exists, only (chunk, vocab).
 */
public final class ChunkedNll {
    /** Positions per chunk: bounds the live logits to CHUNK x vocab per sequence. */
    public static final int CHUNK = 512;

    /** What to do with each chunk's NLL: read it, or backpropagate it. */
    @FunctionalInterface
    public interface ChunkSink {
        /**
         * @param from first position of the chunk
         * @param nll per-position NLL (B, t) of the chunk, float32; valid until the call returns
         */
        void accept(long from, NDArray nll);
    }

    private final LlamaModel model;

    public ChunkedNll(LlamaModel model) {
        this.model = model;
    }

    /**
     * Runs final norm, head and log-softmax over each chunk of positions of the residual stream.
     *
     * @param residual the last decoder layer's output (B, T, H), before the final norm
     * @param targets next-token ids (B, T), int64
     */
    public void forEachChunk(NDManager scope, NDArray residual, NDArray targets, ChunkSink sink) {
        long t = residual.getShape().get(1);
        for (long a = 0; a < t; a += CHUNK) {
            long b = Math.min(t, a + CHUNK);
            try (NDManager chunk = scope.newSubManager()) {
                NDIndex range = new NDIndex(":, {}:{}", a, b);
                NDArray part = residual.get(range);                                      // (B, t, H)
                part.attach(chunk);
                NDArray logits = model.head(model.finalNorm(part));                      // (B, t, V)
                sink.accept(a, PrecisionOps.shared().nll(logits, targets.get(range)));   // (B, t) fp32
            }
        }
    }

    /** -sum(log p(target) x mask) without gradients. */
    public double sum(NDManager scope, NDArray residual, NDArray targets, NDArray mask) {
        double[] total = {0};
        forEachChunk(scope, residual, targets, (from, nll) -> total[0] += nll.mul(mask.get(new NDIndex(":, {}:{}",
                from, from + nll.getShape().get(1)))).sum().getFloat());
        return total[0];
    }
}
