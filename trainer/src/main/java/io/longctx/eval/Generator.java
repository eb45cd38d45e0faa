package io.longctx.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import io.longctx.engine.Tensors;
import io.longctx.model.KvCache;
import io.longctx.model.LlamaModel;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Autoregressive decoding with a KV cache: the prompt is processed in one pass, then one token per step. Greedy at
 * temperature 0, otherwise sampling from softmax(logits / T) with a seeded generator.
 */
public final class Generator {
    private final LlamaModel model;
    private final NDManager scope;

    public Generator(LlamaModel model, NDManager scope) {
        this.model = model;
        this.scope = scope;
    }

    /**
     * @param stopId a token that ends generation (not included in the output), or -1 for none
     * @return the generated ids
     */
    public int[] generate(int[] prompt, int maxNewTokens, double temperature, long seed, int stopId) {
        if (prompt.length == 0) {
            throw new io.longctx.LongctxException("empty prompt");
        }
        model.checkIds(prompt);
        SplittableRandom random = new SplittableRandom(seed);
        int[] out = new int[maxNewTokens];
        int produced = 0;
        try (NDManager call = scope.newSubManager();
                KvCache cache = new KvCache(call, model.config().numLayers())) {
            float[] logits = lastLogits(call, cache, prompt);
            while (produced < maxNewTokens) {
                int next = temperature <= 0 ? argmax(logits) : sample(logits, temperature, random);
                if (next == stopId) {
                    break;
                }
                out[produced++] = next;
                if (produced < maxNewTokens) {
                    logits = lastLogits(call, cache, new int[] {next});
                }
            }
        }
        return Arrays.copyOf(out, produced);
    }

    private float[] lastLogits(NDManager call, KvCache cache, int[] ids) {
        try (NDManager step = call.newSubManager()) {
            NDArray input = Tensors.tokenRow(step, ids, 0, ids.length);
            NDArray hidden = model.hidden(step, input, cache);                        // (1, T, H)
            NDArray last = hidden.get(new NDIndex(":, -1:"));                          // (1, 1, H)
            return Tensors.floats(model.head(last));
        }
    }

    static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    static int sample(float[] logits, double temperature, SplittableRandom random) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double[] weights = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < logits.length; i++) {
            weights[i] = Math.exp((logits[i] - max) / temperature);
            sum += weights[i];
        }
        double u = random.nextDouble() * sum;
        for (int i = 0; i < weights.length; i++) {
            u -= weights[i];
            if (u <= 0) {
                return i;
            }
        }
        return weights.length - 1;
    }
}
