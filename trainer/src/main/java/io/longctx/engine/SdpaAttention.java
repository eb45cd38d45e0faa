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

    private NDArray run(String method, NDList inputs) {
        return module.runWithAutograd(method, inputs).singletonOrThrow();
    }

    @Override
    public void close() {
        module.close();
    }
}
