package io.longctx.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;

/**
 * Attention through torch.scaled_dot_product_attention, reached with a TorchScript module of our own: on CPU the
 * flash kernel (no L^2 score matrix), on CUDA flash / memory-efficient kernels. Key/value heads are repeated inside
 * the script for grouped-query attention. A causal pass whose queries are the last T of S positions gets an explicit
 * bottom-right mask, since SDPA's is_causal aligns to the top left.
 */
public final class SdpaAttention implements Attention, AutoCloseable {
    private static final String CLASS_NAME = "LongctxSdpa";
    private static final String METHODS = """
              def forward(self: __torch__.LongctxSdpa, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
                return self.causal(q, k, v)
              def causal(self: __torch__.LongctxSdpa, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
                rep = torch.floordiv(q.size(1), k.size(1))
                if rep > 1:
                  k = torch.repeat_interleave(k, rep, 1)
                  v = torch.repeat_interleave(v, rep, 1)
                t = q.size(2)
                s = k.size(2)
                if t == s:
                  return torch.scaled_dot_product_attention(q, k, v, None, 0.0, True)
                mask = torch.tril(torch.ones([t, s], dtype=11, device=q.device), s - t)
                return torch.scaled_dot_product_attention(q, k, v, mask, 0.0, False)
              def full(self: __torch__.LongctxSdpa, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
                rep = torch.floordiv(q.size(1), k.size(1))
                if rep > 1:
                  k = torch.repeat_interleave(k, rep, 1)
                  v = torch.repeat_interleave(v, rep, 1)
                return torch.scaled_dot_product_attention(q, k, v, None, 0.0, False)
              def causal_saving(self: __torch__.LongctxSdpa, q: Tensor, k: Tensor, v: Tensor) -> List[Tensor]:
                rep = torch.floordiv(q.size(1), k.size(1))
                if rep > 1:
                  k = torch.repeat_interleave(k, rep, 1)
                  v = torch.repeat_interleave(v, rep, 1)
                out, lse = torch._scaled_dot_product_flash_attention_for_cpu(q, k, v, 0.0, True)
                return [out, lse]
              def causal_grads(self: __torch__.LongctxSdpa, grad: Tensor, q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor) -> List[Tensor]:
                q = torch.detach(q)
                kv_heads = k.size(1)
                rep = torch.floordiv(q.size(1), kv_heads)
                k = torch.detach(k)
                v = torch.detach(v)
                if rep > 1:
                  k = torch.repeat_interleave(k, rep, 1)
                  v = torch.repeat_interleave(v, rep, 1)
                dq, dk, dv = torch._scaled_dot_product_flash_attention_for_cpu_backward(grad, q, k, v, out, lse, 0.0, True)
                if rep > 1:
                  shape = [k.size(0), kv_heads, rep, k.size(2), k.size(3)]
                  dk = torch.sum(torch.reshape(dk, shape), [2])
                  dv = torch.sum(torch.reshape(dv, shape), [2])
                return [dq, dk, dv]
              def backward_into(self: __torch__.LongctxSdpa, q: Tensor, k: Tensor, v: Tensor, dq: Tensor, dk: Tensor, dv: Tensor) -> Tensor:
                grads = annotate(List[Optional[Tensor]], [dq, dk, dv])
                torch.autograd.backward([q, k, v], grads)
                return dq
            """;

    private final ScriptModule module;

    private SdpaAttention(ScriptModule module) {
        this.module = module;
    }

    public static SdpaAttention create() {
        return new SdpaAttention(ScriptModule.load(CLASS_NAME, METHODS));
    }

    @Override
    public String name() {
        return "sdpa";
    }

    @Override
    public NDArray attend(NDArray q, NDArray k, NDArray v, boolean causal) {
        return run(causal && q.getShape().get(2) > 1 ? "causal" : "full", new NDList(q, k, v));
    }

    /**
     * Causal attention over q (B, heads, T, hd) and k, v (B, kvHeads, T, hd) that also returns what its backward
     * needs besides q, k and v: the output and the kernel's log-sum-exp, so selective activation checkpointing can
     * skip recomputing it. CPU only: CUDA's fused kernels take state in their backward that DJL cannot carry.
     */
    public Saved attendSaving(NDArray q, NDArray k, NDArray v) {
        NDList out = module.runWithAutograd("causal_saving", new NDList(q, k, v));
        return new Saved(out.get(0), out.get(1));
    }

    /**
     * d(loss)/d(q, k, v) of a causal {@link #attendSaving} call, from d(loss)/d(output) (B, heads, T, hd); key and
     * value gradients are summed over the query heads sharing each key/value head: (B, kvHeads, T, hd).
     */
    public NDList gradients(NDArray gradOutput, NDArray q, NDArray k, NDArray v, Saved saved) {
        return module.runWithAutograd("causal_grads", new NDList(gradOutput, q, k, v, saved.output(),
                saved.logSumExp()));
    }

    /**
     * Backpropagates the gradients of q, k and v into the graph that made them (in one pass, so what they share,
     * such as the norm before their projections, is traversed once).
     */
    public void backwardInto(NDList qkv, NDList gradients) {
        NDList inputs = new NDList(qkv);
        inputs.addAll(gradients);
        module.runWithAutograd("backward_into", inputs).close();
    }

    /**
     * What a causal attention call kept for its backward.
     *
     * @param output (B, heads, T, hd)
     * @param logSumExp (B, heads, T) fp32, per row of scores
     */
    public record Saved(NDArray output, NDArray logSumExp) implements AutoCloseable {
        public void attach(ai.djl.ndarray.NDManager manager) {
            output.attach(manager);
            logSumExp.attach(manager);
        }

        @Override
        public void close() {
            output.close();
            logSumExp.close();
        }
    }

    private NDArray run(String method, NDList inputs) {
        return module.runWithAutograd(method, inputs).singletonOrThrow();
    }

    @Override
    public void close() {
        module.close();
    }
}
