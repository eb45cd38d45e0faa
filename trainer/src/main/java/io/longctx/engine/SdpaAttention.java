package io.longctx.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;

/**
 * Attention through torch.scaled_dot_product_attention, reached with a TorchScript module of our own: on CPU the
 * flash kernel (no L^2 score matrix), on CUDA flash / memory-efficient kernels. Key/value heads are repeated inside
 * the script for grouped-query attention. A causal pass whose queries are the last T of S positions gets an explicit
 * bottom-right mask, since SDPA's is_causal aligns to the top left.
 */
public final class SdpaAttention implements Attention, AutoCloseable {
    private static final String CLASS_NAME = "LongctxSdpa";
    private static final String METHODS = """
              def forward(self: __torch__.LongctxSdpa, q: Tensor, k: Tensor, v: Tensor, causal: bool) -> Tensor:
                rep = torch.floordiv(q.size(1), k.size(1))
                if rep > 1:
                  k = torch.repeat_interleave(k, rep, 1)
                  v = torch.repeat_interleave(v, rep, 1)
                t = q.size(2)
                s = k.size(2)
                if causal and t != s:
                  mask = torch.tril(torch.ones([t, s], dtype=11, device=q.device), s - t)
                  return torch.scaled_dot_product_attention(q, k, v, mask, 0.0, False)
                return torch.scaled_dot_product_attention(q, k, v, None, 0.0, causal and t > 1)
            """;

    private final NDManager owner;
    private final PtSymbolBlock block;

    private SdpaAttention(NDManager owner, PtSymbolBlock block) {
        this.owner = owner;
        this.block = block;
    }

    public static SdpaAttention create() {
        NDManager owner = NDManager.newBaseManager();
        try {
            return new SdpaAttention(owner, TorchScriptArchive.load((PtNDManager) owner, CLASS_NAME, METHODS));
        } catch (RuntimeException e) {
            owner.close();
            throw e;
        }
    }

    @Override
    public String name() {
        return "sdpa";
    }

    @Override
    public NDArray attend(NDArray q, NDArray k, NDArray v, boolean causal) {
        IValue qi = IValue.from((PtNDArray) q);
        IValue ki = IValue.from((PtNDArray) k);
        IValue vi = IValue.from((PtNDArray) v);
        IValue ci = IValue.from(causal);
        try (IValue out = IValueUtils.runMethod(block, "forward", qi, ki, vi, ci)) {
            return out.toTensor((PtNDManager) q.getManager());
        } finally {
            qi.close();
            ki.close();
            vi.close();
            ci.close();
        }
    }

    @Override
    public void close() {
        block.close();
        owner.close();
    }
}
