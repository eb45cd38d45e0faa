package io.longctx.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import io.longctx.engine.Tensors;
import io.longctx.model.LlamaModel;

/**
 * Next-token negative log-likelihoods of a token sequence. The output head runs over chunks of positions so a long
 * sequence never materialises the full (T, vocab) logits.
 */
public final class TokenScorer {
    private static final int HEAD_CHUNK = 512;

    private final LlamaModel model;
    private final NDManager scope;

    public TokenScorer(LlamaModel model, NDManager scope) {
        this.model = model;
        this.scope = scope;
    }

    /** NLL of ids[i+1] given ids[0..i] for i = from-1 .. n-2, i.e. of the targets at positions from .. n-1. */
    public double[] nll(int[] ids, int from) {
        if (ids.length < 2) {
            return new double[0];
        }
        model.checkIds(ids);
        int first = Math.max(1, from);
        double[] out = new double[ids.length - first];
        try (NDManager call = scope.newSubManager()) {
            NDArray input = Tensors.tokenRow(call, ids, 0, ids.length);              // (1, T)
            NDArray hidden = model.hidden(call, input, null);                         // (1, T, H)
            for (int a = first - 1; a < ids.length - 1; a += HEAD_CHUNK) {
                int b = Math.min(a + HEAD_CHUNK, ids.length - 1);
                try (NDManager chunk = call.newSubManager()) {
                    NDArray h = hidden.get(new NDIndex(":, {}:{}", a, b));
                    h.attach(chunk);
                    NDArray logProbs = model.head(h).logSoftmax(2);                  // (1, t, V)
                    NDArray targets = Tensors.tokenRow(chunk, ids, a + 1, b + 1).expandDims(2);
                    float[] picked = logProbs.gather(targets, 2).toFloatArray();     // (1, t, 1)
                    for (int i = 0; i < picked.length; i++) {
                        out[a + i - (first - 1)] = -picked[i];
                    }
                }
            }
        }
        return out;
    }

    /** NLL of every predicted position (targets 1 .. n-1). */
    public double[] nll(int[] ids) {
        return nll(ids, 1);
    }
}
