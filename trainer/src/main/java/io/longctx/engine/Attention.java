package io.longctx.engine;

import ai.djl.ndarray.NDArray;

/**
 * Scaled dot-product attention with softmax scale 1/sqrt(head_dim) and grouped-query key/value heads (query head h
 * reads key/value head h / (heads / kvHeads), as repeat_interleave does).
 */
public interface Attention {
    /**
     * @param q (B, heads, T, hd)
     * @param k (B, kvHeads, S, hd)
     * @param v (B, kvHeads, S, hd)
     * @param causal when true, query t (the t-th of the last T positions) sees keys 0 .. S-T+t; when false, all keys
     * @return (B, heads, T, hd)
     */
    NDArray attend(NDArray q, NDArray k, NDArray v, boolean causal);

    String name();
}
