package io.longctx.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.IValue;
import io.longctx.LongctxException;
import java.util.List;

/**
 * The operations whose inputs may be bfloat16, run in a TorchScript module of our own: DJL aborts the JVM when a
 * bf16 tensor's data type reaches its native code (zerosLike, softmax, toDevice, a scalar made "like" a tensor), so
 * casts, RMSNorm, RoPE, the log-softmax of the loss, zeros and the per-step weight and gradient copies happen here,
 * with statistics, tables and the loss in fp32. The same code serves fp32, where the casts are no-ops.
 */
public final class PrecisionOps {
    private static final String CLASS_NAME = "LongctxPrecisionOps";
    private static final String METHODS = """
              def to_bf16(self: __torch__.LongctxPrecisionOps, x: Tensor) -> Tensor:
                return torch.to(torch.detach(x), 15, False, True)
              def to_f32(self: __torch__.LongctxPrecisionOps, x: Tensor) -> Tensor:
                return torch.to(torch.detach(x), 6, False, True)
              def rms_norm(self: __torch__.LongctxPrecisionOps, x: Tensor, w: Tensor, eps: Tensor) -> Tensor:
                norm = torch.linalg_vector_norm(x, 2.0, [-1], True, dtype=6)
                rms = torch.rsqrt(torch.add(torch.div(torch.mul(norm, norm), x.size(-1)), eps))
                return torch.mul(torch.to(torch.mul(x, rms), x.dtype), w)
              def swiglu(self: __torch__.LongctxPrecisionOps, gate: Tensor, up: Tensor) -> Tensor:
                return torch.mul(torch.silu(gate), up)
              def rope(self: __torch__.LongctxPrecisionOps, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
                rot = cos.size(-1)
                half = torch.floordiv(rot, 2)
                x32 = torch.to(x, 6)
                r = torch.slice(x32, -1, 0, rot)
                x1 = torch.slice(r, -1, 0, half)
                x2 = torch.slice(r, -1, half, rot)
                out = torch.add(torch.mul(r, cos), torch.mul(torch.cat([torch.neg(x2), x1], -1), sin))
                if rot < x.size(-1):
                  out = torch.cat([out, torch.slice(x32, -1, rot, x.size(-1))], -1)
                return torch.to(out, x.dtype)
              def nll(self: __torch__.LongctxPrecisionOps, logits: Tensor, targets: Tensor) -> Tensor:
                log_probs = torch.log_softmax(torch.to(logits, 6), -1)
                return torch.neg(torch.squeeze(torch.gather(log_probs, -1, torch.unsqueeze(targets, -1)), -1))
              def zeros_like(self: __torch__.LongctxPrecisionOps, x: Tensor) -> Tensor:
                return torch.zeros_like(x)
              def copy(self: __torch__.LongctxPrecisionOps, dst: List[Tensor], src: List[Tensor]) -> None:
                torch._foreach_copy_(dst, src)
                return None
              def zero(self: __torch__.LongctxPrecisionOps, xs: List[Tensor]) -> None:
                torch._foreach_zero_(xs)
                return None
              def accumulate(self: __torch__.LongctxPrecisionOps, sums: List[Tensor], grads: List[Tensor]) -> None:
                torch._foreach_add_(sums, grads)
                torch._foreach_zero_(grads)
                return None
            """;
    private static final PrecisionOps SHARED = new PrecisionOps(ScriptModule.load(CLASS_NAME, METHODS));

    private final ScriptModule module;

    private PrecisionOps(ScriptModule module) {
        this.module = module;
    }

    /** One module for the process: it holds no state, only compiled methods. */
    public static PrecisionOps shared() {
        return SHARED;
    }

    /**
     * x's data type, for the DJL calls that take one; a bf16 tensor (which DJL reports as UNKNOWN) is refused with
     * an exception here instead of aborting the JVM in native code. Every DataType taken from a tensor that may be
     * bf16 goes through this guard.
     */
    public static DataType dataType(NDArray x) {
        DataType type = x.getDataType();
        if (type == DataType.UNKNOWN) {
            throw new LongctxException("a bf16 (or other non-DJL) tensor of shape " + x.getShape() + " reached a "
                    + "DJL call that takes its data type; this operation must run in PrecisionOps");
        }
        return type;
    }

    /**
     * A copy of x in the given precision, detached, on x's device and owned by x's manager. Made in grad mode, so
     * the copy can become a leaf that collects gradients.
     */
    public NDArray cast(NDArray x, Precision precision) {
        return one(precision == Precision.BF16 ? "to_bf16" : "to_f32", x);
    }

    /**
     * x / sqrt(mean(x^2) + eps) x w over the last axis, statistics in fp32, result in x's type. The statistic comes
     * from an fp32-accumulated norm of x itself, so autograd keeps x (in its own type) and one fp32 value per row,
     * never an fp32 copy of x.
     */
    public NDArray rmsNorm(NDArray x, NDArray weight, NDArray eps) {
        return one("rms_norm", x, weight, eps);
    }

    /**
     * silu(gate) x up in one call: autograd keeps gate, silu(gate) and up (the SiLU's backward recomputes its
     * sigmoid), one intermediate fewer than composing sigmoid, two products.
     */
    public NDArray swiglu(NDArray gate, NDArray up) {
        return one("swiglu", gate, up);
    }

    /** x cos + rotate_half(x) sin on the first cos.size(-1) channels, computed in fp32, result in x's type. */
    public NDArray rope(NDArray x, NDArray cos, NDArray sin) {
        return one("rope", x, cos, sin);
    }

    /** -log_softmax(logits in fp32)[target] over the last axis: (..., V) and (...) int64 to (...) fp32. */
    public NDArray nll(NDArray logits, NDArray targets) {
        return one("nll", logits, targets);
    }

    public NDArray zerosLike(NDArray x) {
        return one("zeros_like", x);
    }

    /** dst[i] <- src[i] for every pair, converting type and device (a weight refresh, a gradient offload). */
    public void copy(List<NDArray> dst, List<NDArray> src) {
        inference("copy", dst, src);
    }

    /** Every tensor set to zero, in place. */
    public void zero(List<NDArray> tensors) {
        if (tensors.isEmpty()) {
            return;
        }
        try (IValue all = list(tensors); IValue ignored = module.runInference("zero", all)) {
            // returns None
        }
    }

    /** sums[i] += grads[i] (in the sums' type), then grads[i] <- 0. */
    public void accumulate(List<NDArray> sums, List<NDArray> grads) {
        inference("accumulate", sums, grads);
    }

    private NDArray one(String method, NDArray... inputs) {
        return module.runWithAutograd(method, new NDList(inputs)).singletonOrThrow();
    }

    private void inference(String method, List<NDArray> a, List<NDArray> b) {
        if (a.isEmpty()) {
            return;
        }
        try (IValue first = list(a); IValue second = list(b);
                IValue ignored = module.runInference(method, first, second)) {
            // returns None
        }
    }

    static IValue list(List<NDArray> tensors) {
        return IValue.listFrom(tensors.stream().map(t -> (PtNDArray) t).toArray(PtNDArray[]::new));
    }

    /** The manager that owns short-lived constants of the module's callers. */
    NDManager manager() {
        return module.manager();
    }
}
