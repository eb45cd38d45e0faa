package io.longctx.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Attention written with plain NDArray ops: materialises the (T, S) score matrix. The reference that the fused path
 * is tested against, and the fallback where TorchScript is unavailable.
 */
public final class PlainAttention implements Attention {
    @Override
    public String name() {
        return "plain";
    }

    @Override
    public NDArray attend(NDArray q, NDArray k, NDArray v, boolean causal) {
        if (!causal) {
            return attendWhere(q, k, v, null);
        }
        NDManager manager = q.getManager();
        long t = q.getShape().get(2);
        long s = k.getShape().get(2);
        NDArray queryPos = manager.arange(s - t, s, 1, DataType.INT64).reshape(t, 1);
        NDArray keyPos = manager.arange(0, s, 1, DataType.INT64).reshape(1, s);
        return attendWhere(q, k, v, keyPos.lte(queryPos));                  // (T, S) visibility
    }

    /**
     * Attention under an explicit mask: the reference that attention over document segments is tested against.
     *
     * @param allowed boolean (B, 1, T, S): true where query t may attend to key s (causality included)
     */
    public NDArray attendMasked(NDArray q, NDArray k, NDArray v, NDArray allowed) {
        return attendWhere(q, k, v, allowed);
    }

    /** softmax(q k^T / sqrt(hd) + bias) v, with bias 0 where visible and -inf elsewhere (one add, broadcast). */
    private static NDArray attendWhere(NDArray q, NDArray k, NDArray v, NDArray visible) {
        NDManager manager = q.getManager();
        long heads = q.getShape().get(1);
        long headDim = q.getShape().get(3);
        NDArray keys = repeatKv(k, heads);                                   // (B, heads, S, hd)
        NDArray values = repeatKv(v, heads);
        NDArray scale = manager.full(new Shape(), (float) (1.0 / Math.sqrt(headDim)), PrecisionOps.dataType(q));
        NDArray scores = q.mul(scale).matMul(keys.transpose(0, 1, 3, 2));  // (B, heads, T, S)
        if (visible != null) {
            NDArray zero = manager.full(new Shape(), 0f, PrecisionOps.dataType(scores));
            NDArray blocked = manager.full(new Shape(), Float.NEGATIVE_INFINITY, PrecisionOps.dataType(scores));
            NDArray bias = NDArrays.where(visible, zero.broadcast(visible.getShape()),
                    blocked.broadcast(visible.getShape()));                  // (T, S) or (B, 1, T, S)
            scores = scores.add(bias);
        }
        return scores.softmax(3).matMul(values);                           // (B, heads, T, hd)
    }

    /** (B, kvHeads, S, hd) to (B, heads, S, hd), each kv head repeated heads/kvHeads times in place. */
    static NDArray repeatKv(NDArray x, long heads) {
        Shape shape = x.getShape();
        long kvHeads = shape.get(1);
        if (kvHeads == heads) {
            return x;
        }
        long rep = heads / kvHeads;
        return x.expandDims(2)
                .broadcast(new Shape(shape.get(0), kvHeads, rep, shape.get(2), shape.get(3)))
                .reshape(shape.get(0), heads, shape.get(2), shape.get(3));
    }
}
