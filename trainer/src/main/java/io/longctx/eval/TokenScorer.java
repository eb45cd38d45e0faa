package io.longctx.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import io.longctx.engine.Tensors;
import io.longctx.model.ChunkedNll;
import io.longctx.model.LlamaModel;

/**
 * Next-token negative log-likelihoods of a token sequence, through the one chunked output head ({@link ChunkedNll}).
 */
public final class TokenScorer {
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
            // the residual stream of positions first-1 .. n-2 predicts targets first .. n-1
            NDArray input = Tensors.tokenRow(call, ids, 0, ids.length);              // (1, T)
            NDArray residual = model.residual(call, input, null)
                    .get(new NDIndex(":, {}:{}", first - 1, ids.length - 1));        // (1, T', H)
            NDArray targets = Tensors.tokenRow(call, ids, first, ids.length);        // (1, T')
            new ChunkedNll(model).forEachChunk(call, residual, targets, (start, nll) -> {
                float[] values = nll.toFloatArray();
                for (int i = 0; i < values.length; i++) {
                    out[(int) start + i] = values[i];
                }
            });
        }
        return out;
    }

    /** NLL of every predicted position (targets 1 .. n-1). */
    public double[] nll(int[] ids) {
        return nll(ids, 1);
    }
}
