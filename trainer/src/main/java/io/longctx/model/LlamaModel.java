package io.longctx.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.longctx.LongctxException;
import io.longctx.engine.Attention;
import io.longctx.engine.DocumentAttention;
import io.longctx.engine.PrecisionOps;
import io.longctx.engine.Tensors;
import io.longctx.rope.RopeFrequencies;
import io.longctx.rope.RopeScaling;
import io.longctx.rope.RopeTables;

/**
 * The Llama-family decoder forward pass (llama, mistral, qwen2): token embedding, per layer RMSNorm -> grouped-query
 * attention with RoPE -> residual -> RMSNorm -> SwiGLU MLP -> residual, final RMSNorm, output head. The model does no
 * I/O. Every call works in a sub-manager of the caller's scope and closes its temporaries as soon as a layer is done;
 * only the result is attached to the scope. The pieces (embed, decoderLayer, finalNorm, head) are public so the
 * trainer can run them segment by segment for activation checkpointing.
 */
public final class LlamaModel {
    private final ModelConfig config;
    private final LlamaWeights weights;
    private final Attention attention;
    private final RopeScaling scaling;

    /**
     * What attention needs besides q, k, v: the RoPE tables, broadcastable to (B, heads, T, rotaryDim), and for
     * packed documents that must not see each other, where each row's documents begin (null: one causal sequence).
     */
    public record AttentionInputs(NDArray cos, NDArray sin, int[][] documentStarts) {
    }

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
        try (NDManager call = scope.newSubManager()) {
            NDArray normed = finalNorm(residual(call, ids, cache));
            normed.attach(scope);
            return normed;
        }
    }

    /** The last decoder layer's output (B, T, hidden), before the final norm, attached to {@code scope}. */
    public NDArray residual(NDManager scope, NDArray ids, KvCache cache) {
        int start = cache == null ? 0 : cache.length();
        int t = (int) ids.getShape().get(1);
        try (NDManager call = scope.newSubManager()) {
            AttentionInputs inputs = contiguousInputs(call, start, t);
            NDArray x = embed(call, ids);
            for (int layer = 0; layer < config.numLayers(); layer++) {
                NDArray next = decoderLayer(call, layer, x, inputs, cache);
                x.close();
                x = next;
            }
            if (cache != null) {
                cache.advance(t);
            }
            x.attach(scope);
            return x;
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

    /** Token embeddings (B, T, H) of ids (B, T), attached to scope. */
    public NDArray embed(NDManager scope, NDArray ids) {
        NDArray x = JniUtils.embedding((PtNDArray) ids, (PtNDArray) weights.get("model.embed_tokens.weight"), false);
        x.attach(scope);
        return x;
    }

    public NDArray finalNorm(NDArray x) {
        return rmsNorm(x, weights.get("model.norm.weight"));
    }

    /** The output projection of final-normed hidden states (..., H) to logits (..., vocab). */
    public NDArray head(NDArray hidden) {
        return Linear.linear(hidden, weights.outputHead(), null).head();
    }

    /**
     * One decoder block on input (B, T, H); returns the next residual stream (B, T, H) attached to scope. The block's
     * temporaries live in a sub-manager closed before returning (autograd keeps what backward needs by itself).
     */
    public NDArray decoderLayer(NDManager scope, int layer, NDArray input, AttentionInputs in, KvCache cache) {
        return decoderLayer(scope, layer, input, in, cache, this::attend);
    }

    /**
     * How a decoder layer turns q (B, heads, T, hd), k and v (B, kvHeads, S, hd) into the attention output
     * (B, heads, T, hd). Activation checkpointing substitutes its own to keep or reuse that output.
     */
    @FunctionalInterface
    public interface AttentionStep {
        NDArray attend(NDArray q, NDArray k, NDArray v, AttentionInputs in);
    }

    /** The model's attention: causal, and per document where packed documents must not see each other. */
    public NDArray attend(NDArray q, NDArray k, NDArray v, AttentionInputs in) {
        return in.documentStarts() == null ? attention.attend(q, k, v, true)
                : DocumentAttention.attend(attention, q, k, v, in.documentStarts());
    }

    public Attention attention() {
        return attention;
    }

    /** One decoder block as above, its attention computed by {@code step}. */
    public NDArray decoderLayer(NDManager scope, int layer, NDArray input, AttentionInputs in, KvCache cache,
            AttentionStep step) {
        try (NDManager layerScope = scope.newSubManager()) {
            String p = "model.layers." + layer + ".";
            long b = input.getShape().get(0);
            long t = input.getShape().get(1);
            int hd = config.headDim();
            // a view owned by the layer scope, so every temporary derived from it is freed with the scope
            NDArray x = input.reshape(input.getShape());
            x.attach(layerScope);
            NDArray h = rmsNorm(x, weights.get(p + "input_layernorm.weight"));
            NDArray q = project(h, p + "self_attn.q_proj")
                    .reshape(b, t, config.numHeads(), hd).transpose(0, 2, 1, 3);        // (B, nh, T, hd)
            NDArray k = project(h, p + "self_attn.k_proj")
                    .reshape(b, t, config.numKvHeads(), hd).transpose(0, 2, 1, 3);      // (B, nkv, T, hd)
            NDArray v = project(h, p + "self_attn.v_proj")
                    .reshape(b, t, config.numKvHeads(), hd).transpose(0, 2, 1, 3);      // (B, nkv, T, hd)
            q = applyRope(q, in.cos(), in.sin());
            k = applyRope(k, in.cos(), in.sin());
            if (cache != null) {
                NDList full = cache.append(layer, k, v);
                k = full.get(0);                                                         // (B, nkv, S, hd)
                v = full.get(1);
            }
            NDArray attended = step.attend(q, k, v, in).reshape(b, config.numHeads(), t, hd); // (B, nh, T, hd)
            // a kept output (selective checkpointing) lives in the step's scope: a view here keeps what follows in this one
            attended.attach(layerScope);
            NDArray merged = attended.transpose(0, 2, 1, 3).reshape(b, t, (long) config.numHeads() * hd);
            NDArray residual = x.add(project(merged, p + "self_attn.o_proj"));          // (B, T, H)
            NDArray h2 = rmsNorm(residual, weights.get(p + "post_attention_layernorm.weight"));
            NDArray gated = PrecisionOps.shared().swiglu(project(h2, p + "mlp.gate_proj"),
                    project(h2, p + "mlp.up_proj"));                                     // (B, T, I)
            NDArray mlp = project(gated, p + "mlp.down_proj");
            NDArray out = residual.add(mlp);                                             // (B, T, H)
            out.attach(scope);
            return out;
        }
    }

    /** x W^T + b, plus scale (x A^T) B^T where the module has a LoRA adapter. */
    private NDArray project(NDArray x, String prefix) {
        NDArray out = Linear.linear(x, weights.get(prefix + ".weight"), weights.optional(prefix + ".bias")).head();
        NDArray a = weights.optional(prefix + ".lora_A.weight");                      // (r, in)
        if (a == null) {
            return out;
        }
        NDArray down = Linear.linear(x, a, null).head();                              // (..., r)
        NDArray up = Linear.linear(down, weights.get(prefix + ".lora_B.weight"), null).head(); // (..., out)
        return out.add(up.mul(Tensors.scalar(x.getManager(), weights.loraScale(), DataType.FLOAT32)));
    }

    /** x / sqrt(mean(x^2) + eps) * w over the last axis, the statistics in fp32 whatever x's precision. */
    NDArray rmsNorm(NDArray x, NDArray weight) {
        NDArray eps = Tensors.scalar(x.getManager(), config.rmsNormEps(), DataType.FLOAT32);
        return PrecisionOps.shared().rmsNorm(x, weight, eps);
    }

    /**
     * x*cos + rotate_half(x)*sin on the first rotaryDim channels of each head (the rest pass through), computed in
     * fp32 from the fp32 tables and returned in x's precision.
     */
    NDArray applyRope(NDArray x, NDArray cos, NDArray sin) {
        return PrecisionOps.shared().rope(x, cos, sin);
    }

    /** RoPE tables (T, rotaryDim) for positions start .. start+T, frequencies for a pass of start+T positions. */
    public AttentionInputs contiguousInputs(NDManager scope, int start, int count) {
        RopeFrequencies frequencies = scaling.frequencies(config.ropeGeometry(), start + count);
        RopeTables tables = RopeTables.compute(frequencies, start, count);
        Shape shape = new Shape(count, tables.rotaryDim());
        return new AttentionInputs(Tensors.fromFloats(scope, tables.cos(), shape),
                Tensors.fromFloats(scope, tables.sin(), shape), null);
    }

    /**
     * Inputs for packed sequences (B, T): RoPE at each token's position inside its document, and where each document
     * begins, so a token attends only to earlier tokens of its own document (no (T x T) mask is built).
     *
     * @param positionIds (B, T) position of each token within its document
     * @param documentIds (B, T) document ordinal of each token within its sequence
     */
    public AttentionInputs packedInputs(NDManager scope, int[][] positionIds, int[][] documentIds) {
        int b = positionIds.length;
        int t = positionIds[0].length;
        AttentionInputs table = contiguousInputs(scope, 0, t);                      // (T, rot)
        long[] flatPositions = new long[b * t];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < t; j++) {
                flatPositions[i * t + j] = positionIds[i][j];
            }
        }
        NDArray positions = Tensors.fromLongs(scope, flatPositions, new Shape(b, t));
        NDArray cos = JniUtils.embedding((PtNDArray) positions, (PtNDArray) table.cos(), false).expandDims(1);
        NDArray sin = JniUtils.embedding((PtNDArray) positions, (PtNDArray) table.sin(), false).expandDims(1);
        cos.attach(scope);
        sin.attach(scope);
        return new AttentionInputs(cos, sin, DocumentAttention.segmentStarts(documentIds));
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
