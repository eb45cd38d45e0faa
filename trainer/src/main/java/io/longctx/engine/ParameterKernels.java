package io.longctx.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.IValue;
import java.util.ArrayList;
import java.util.List;

/**
 * Operations over all parameters in one engine call each, reached through a TorchScript module of our own: the global
 * gradient norm (torch._foreach_norm) and the AdamW update (torch._fused_adamw_, torch's fused kernel) followed by
 * zeroing the gradients. A Java loop over parameters costs about ten engine calls and a gradient copy per tensor.
 * These run in the engine's inference mode, which is right for updates that autograd must not record.
 */
public final class ParameterKernels implements AutoCloseable {
    private static final String CLASS_NAME = "LongctxParameterKernels";
    private static final String METHODS = """
              def grad_norm(self: __torch__.LongctxParameterKernels, grads: List[Tensor]) -> float:
                norms = torch._foreach_norm(grads, 2)
                return float(torch.norm(torch.stack(norms)))
              def adamw(self: __torch__.LongctxParameterKernels, params: List[Tensor], grads: List[Tensor], \
            means: List[Tensor], variances: List[Tensor], steps: List[Tensor], grad_divisor: Tensor, lr: float, \
            beta1: float, beta2: float, weight_decay: float, eps: float) -> None:
                torch._fused_adamw_(params, grads, means, variances, annotate(List[Tensor], []), steps, lr=lr, \
            beta1=beta1, beta2=beta2, weight_decay=weight_decay, eps=eps, amsgrad=False, maximize=False, \
            grad_scale=grad_divisor, found_inf=None)
                torch._foreach_zero_(grads)
                return None
            """;

    private final ScriptModule module;

    private ParameterKernels(ScriptModule module) {
        this.module = module;
    }

    public static ParameterKernels create() {
        return new ParameterKernels(ScriptModule.load(CLASS_NAME, METHODS));
    }

    /** sqrt of the sum of squares of every element of every gradient. */
    public double gradNorm(List<NDArray> grads) {
        try (IValue list = tensorList(grads); IValue result = module.runInference("grad_norm", list)) {
            return result.toDouble();
        }
    }

    /**
     * torch.optim.AdamW's update of every parameter (decoupled decay, bias-corrected moments, eps added to
     * sqrt(v_hat)), with each gradient first multiplied by {@code gradScale}; then zeroes the gradients.
     *
     * @param step the 1-based update number, for the bias corrections
     */
    public void adamw(List<NDArray> params, List<NDArray> grads, List<NDArray> means, List<NDArray> variances,
            int step, double lr, double beta1, double beta2, double weightDecay, double eps, double gradScale) {
        // the fused kernel wants its step counts and scale on the parameters' device (host masters under offload)
        try (NDManager scope = module.manager().newSubManager(params.get(0).getDevice())) {
            NDArray stepTensor = scope.full(new Shape(), (float) step, DataType.FLOAT32);
            NDArray divisor = scope.full(new Shape(), (float) (1.0 / gradScale), DataType.FLOAT32);
            List<NDArray> steps = new ArrayList<>(params.size());
            for (int i = 0; i < params.size(); i++) {
                steps.add(stepTensor);
            }
            List<IValue> args = new ArrayList<>(List.of(tensorList(params), tensorList(grads), tensorList(means),
                    tensorList(variances), tensorList(steps), IValue.from((PtNDArray) divisor), IValue.from(lr),
                    IValue.from(beta1), IValue.from(beta2), IValue.from(weightDecay), IValue.from(eps)));
            try (IValue ignored = module.runInference("adamw", args.toArray(IValue[]::new))) {
                // returns None
            } finally {
                args.forEach(IValue::close);
            }
        }
    }

    private static IValue tensorList(List<NDArray> tensors) {
        return IValue.listFrom(tensors.stream().map(t -> (PtNDArray) t).toArray(PtNDArray[]::new));
    }

    @Override
    public void close() {
        module.close();
    }
}
