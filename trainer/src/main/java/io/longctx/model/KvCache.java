package io.longctx.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;

/** Keys (already rotated) and values of every layer for the positions processed so far. */
public final class KvCache implements AutoCloseable {
    private final NDManager manager;
    private final NDArray[] keys;
    private final NDArray[] values;
    private int length;

    public KvCache(NDManager parent, int layers) {
        this.manager = parent.newSubManager();
        this.keys = new NDArray[layers];
        this.values = new NDArray[layers];
    }

    /** Number of positions cached, i.e. the position of the next token. */
    public int length() {
        return length;
    }

    /** Appends this step's (B, kvHeads, T, hd) keys and values and returns the full ones (B, kvHeads, S, hd). */
    NDList append(int layer, NDArray k, NDArray v) {
        NDArray fullK = keys[layer] == null ? k : keys[layer].concat(k, 2);
        NDArray fullV = values[layer] == null ? v : values[layer].concat(v, 2);
        fullK.attach(manager);
        fullV.attach(manager);
        if (keys[layer] != null && keys[layer] != fullK) {
            keys[layer].close();
            values[layer].close();
        }
        keys[layer] = fullK;
        values[layer] = fullV;
        return new NDList(fullK, fullV);
    }

    void advance(int tokens) {
        length += tokens;
    }

    @Override
    public void close() {
        manager.close();
    }
}
