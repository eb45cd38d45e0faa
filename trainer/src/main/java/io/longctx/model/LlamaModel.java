package io.longctx.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.longctx.LongctxException;
import io.longctx.engine.Attention;
import io.longctx.engine.Tensors;
import io.longctx.rope.RopeFrequencies;
import io.longctx.rope.RopeScaling;
import io.longctx.rope.RopeTables;

/**
 * The Llama-family decoder forward pass (llama, mistral, qwen2): token embedding, per layer RMSNorm -> grouped-query
 * attention with RoPE -> residual -> RMSNorm -> SwiGLU MLP -> residual, final RMSNorm, output head. The model does no
 * I/O. Every call works in a sub-manager of the caller's scope and closes its temporaries as soon as a layer is done;
 * only the result is attached to the scope.
 */
public final class LlamaModel {
    private final ModelConfig config;
    private final LlamaWeights weights;
    private final Attention attention;
    private final RopeScaling scaling;

    public LlamaModel(LlamaWeights weights, Attention attention) {
        this(weights, attention, weights.config().ropeScaling());
    }

    /** A model whose RoPE scaling replaces the config's (scaling without fine-tuning, for evaluation). */
    public LlamaModel(LlamaWeights weights, Attention attention, RopeScaling scaling) {
        this.config = weights.config();
        this.weights = weights;
        this.attention = attention;
        this.scaling = scaling;
    }

    public ModelConfig config() {
        return config;
    }

    public RopeScaling ropeScaling() {
        return scaling;
    }

    public LlamaWeights weights() {
        return weights;
    }

    /**
     * Final-normed hidden states for token ids (B, T), int64, at positions cache.length() .. +T (0 .. T without a
     * cache). Returns (B, T, hidden) attached to {@code scope}.
     */
    public NDArray hidden(NDManager scope, NDArray ids, KvCache cache) {
        int start = cache == null ? 0 : cache.length();
        int t = (int) ids.getShape().get(1);
        try (NDManager call = scope.newSubManager()) {
            NDList rope = ropeTables(call, start, t);
            NDArray x = JniUtils.embedding((PtNDArray) ids, (PtNDArray) weights.get("model.embed_tokens.weight"),
                    false);                                                   // (B, T, H)
            x.attach(call);
            for (int layer = 0; layer < config.numLayers(); layer++) {
                try (NDManager layerScope = call.newSubManager()) {
                    x.attach(layerScope);
                    NDArray out = decoderLayer(layerScope, layer, x, rope.get(0), rope.get(1), cache);
                    out.attach(call);
                    x = out;
                }
            }
            if (cache != null) {
                cache.advance(t);
            }
            NDArray normed = rmsNorm(x, weights.get("model.norm.weight"));
            normed.attach(scope);
            return normed;
        }
    }

    /** Logits (B, T, vocab) for token ids (B, T). */
    public NDArray logits(NDManager scope, NDArray ids, KvCache cache) {
        try (NDManager call = scope.newSubManager()) {
            NDArray h = hidden(call, ids, cache);
            NDArray logits = head(h);
            logits.attach(scope);
            return logits;
        }
    }

    /** The output projection of final-normed hidden states (..., H) to logits (..., vocab). */
    public NDArray head(NDArray hidden) {
        return Linear.linear(hidden, weights.outputHead(), null).head();
    }

    /** One decoder block on x (B, T, H); the result is the next residual stream (B, T, H). */
    public NDArray decoderLayer(NDManager scope, int layer, NDArray x, NDArray cos, NDArray sin, KvCache cache) {
        String p = "model.layers." + layer + ".";
        long b = x.getShape().get(0);
        long t = x.getShape().get(1);
        int hd = config.headDim();
        NDArray h = rmsNorm(x, weights.get(p + "input_layernorm.weight"));
        NDArray q = project(h, p + "self_attn.q_proj")
                .reshape(b, t, config.numHeads(), hd).transpose(0, 2, 1, 3);        // (B, nh, T, hd)
        NDArray k = project(h, p + "self_attn.k_proj")
                .reshape(b, t, config.numKvHeads(), hd).transpose(0, 2, 1, 3);      // (B, nkv, T, hd)
        NDArray v = project(h, p + "self_attn.v_proj")
                .reshape(b, t, config.numKvHeads(), hd).transpose(0, 2, 1, 3);      // (B, nkv, T, hd)
        q = applyRope(q, cos, sin);
        k = applyRope(k, cos, sin);
        if (cache != null) {
            NDList full = cache.append(layer, k, v);
            k = full.get(0);                                                         // (B, nkv, S, hd)
            v = full.get(1);
        }
        NDArray attended = attention.attend(q, k, v, true)                           // (B, nh, T, hd)
                .transpose(0, 2, 1, 3).reshape(b, t, (long) config.numHeads() * hd); // (B, T, nh*hd)
        NDArray residual = x.add(project(attended, p + "self_attn.o_proj"));         // (B, T, H)
        NDArray h2 = rmsNorm(residual, weights.get(p + "post_attention_layernorm.weight"));
        NDArray gateIn = project(h2, p + "mlp.gate_proj");                           // (B, T, I)
        NDArray gate = gateIn.mul(Activation.sigmoid(gateIn));                      // silu
        NDArray mlp = project(gate.mul(project(h2, p + "mlp.up_proj")), p + "mlp.down_proj");
        NDArray out = residual.add(mlp);                                             // (B, T, H)
        out.attach(scope);
        return out;
    }

    private NDArray project(NDArray x, String prefix) {
        return Linear.linear(x, weights.get(prefix + ".weight"), weights.optional(prefix + ".bias")).head();
    }

    /** x / sqrt(mean(x^2) + eps) * w over the last axis, in fp32. */
    NDArray rmsNorm(NDArray x, NDArray weight) {
        NDArray eps = Tensors.scalar(x.getManager(), config.rmsNormEps(), x.getDataType());
        int last = x.getShape().dimension() - 1;
        NDArray rms = x.square().mean(new int[] {last}, true).add(eps).sqrt();     // (..., 1)
        return x.div(rms).mul(weight);
    }

    /** q*cos + rotate_half(q)*sin on the first rotaryDim channels of each head; the rest pass through. */
    NDArray applyRope(NDArray x, NDArray cos, NDArray sin) {
        int rot = config.rotaryDim();
        int hd = config.headDim();
        NDArray rotary = rot == hd ? x : x.get(new NDIndex("..., :{}", rot));
        int last = x.getShape().dimension() - 1;
        NDList halves = rotary.split(2, last);
        NDArray rotatedHalf = halves.get(1).neg().concat(halves.get(0), last);        // rotate_half
        NDArray out = rotary.mul(cos).add(rotatedHalf.mul(sin));
        return rot == hd ? out : out.concat(x.get(new NDIndex("..., {}:", rot)), last);
    }

    /** cos and sin (T, rotaryDim) for positions start .. start+T, frequencies for a pass of start+T positions. */
    public NDList ropeTables(NDManager scope, int start, int count) {
        RopeFrequencies frequencies = scaling.frequencies(config.ropeGeometry(), start + count);
        RopeTables tables = RopeTables.compute(frequencies, start, count);
        Shape shape = new Shape(count, tables.rotaryDim());
        NDArray cos = Tensors.fromFloats(scope, tables.cos(), shape);
        NDArray sin = Tensors.fromFloats(scope, tables.sin(), shape);
        return new NDList(cos, sin);
    }

    /** Sanity check used by callers that accept raw ids. */
    public void checkIds(int[] ids) {
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= config.vocabSize()) {
                throw new LongctxException("token id " + ids[i] + " at index " + i
                        + " is outside the vocabulary (0.." + (config.vocabSize() - 1) + ")");
            }
        }
    }
}
