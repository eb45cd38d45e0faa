package io.longctx.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;

/**
 * A TorchScript module of our own (see {@link TorchScriptArchive}), loaded with the manager that owns it, and the two
 * ways DJL lets us call its methods. Closing it frees both.
 */
public final class ScriptModule implements AutoCloseable {
    private final NDManager owner;
    private final PtSymbolBlock block;

    private ScriptModule(NDManager owner, PtSymbolBlock block) {
        this.owner = owner;
        this.block = block;
    }

    public static ScriptModule load(String className, String methods) {
        // The graph executor's optimizer re-plans a method after its first runs and then differentiates it with
        // its own formulas, so the same call would give other gradients from the third time on: the methods here
        // are thin wrappers over ATen ops and gain nothing from it.
        NDManager owner = NDManager.newBaseManager();         // loads the engine's native library first
        JniUtils.setGraphExecutorOptimize(false);
        try {
            return new ScriptModule(owner, TorchScriptArchive.load((PtNDManager) owner, className, methods));
        } catch (RuntimeException e) {
            owner.close();
            throw e;
        }
    }

    /** A manager for short-lived arrays the module's callers need (scalars passed as tensors). */
    public NDManager manager() {
        return owner;
    }

    /**
     * Runs a method on tensors in the caller's grad mode, so autograd can record it. DJL picks the method from an
     * input named "module_method:NAME" (which is not passed on), and only this entry point (isTrain = true) keeps
     * the grad mode: the IValue one always uses inference mode, whose outputs autograd refuses to save.
     */
    NDList runWithAutograd(String method, NDList inputs) {
        NDManager scope = inputs.get(0).getManager();
        NDArray marker = scope.zeros(new Shape(1));
        marker.setName("module_method:" + method);
        inputs.add(marker);
        try {
            return IValueUtils.forward(block, inputs, true);
        } finally {
            marker.close();
        }
    }

    /** Runs a method on IValues in inference mode: for work autograd must not record, such as parameter updates. */
    public IValue runInference(String method, IValue... arguments) {
        return IValueUtils.runMethod(block, method, arguments);
    }

    @Override
    public void close() {
        block.close();
        owner.close();
    }
}
