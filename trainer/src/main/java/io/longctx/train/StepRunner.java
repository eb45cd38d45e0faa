package io.longctx.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.longctx.data.pack.PackedSequence;
import ai.djl.ndarray.NDList;
import io.longctx.engine.DocumentAttention;
import io.longctx.engine.PrecisionOps;
import io.longctx.engine.SdpaAttention;
import io.longctx.engine.Tensors;
import io.longctx.model.ChunkedNll;
import io.longctx.model.LlamaModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Forward and backward of one micro-batch, accumulating parameter gradients. The output head and loss always run in
 * chunks of positions ({@link ChunkedNll}), each chunk with its own backward into the gradient of the residual
 * stream, so no (length, vocabulary) logits tensor is ever whole. Without activation checkpointing the decoder's
 * graph is kept and backpropagated once; with it, the forward runs without a graph keeping only the input of every
 * k-layer segment, and backward recomputes each segment with a graph, last to first, feeding the gradient of its
 * output and taking the gradient of its input to the previous segment. The last {@code keepLast} layers may keep
 * their graph instead (no recompute: faster, their activations held until their backward, which runs first).
 * Selective checkpointing ({@code saveAttention}) recomputes every layer but its attention: the forward keeps each
 * layer's attention output and log-sum-exp, and backward recomputes the norms, projections, RoPE and MLP around it,
 * backpropagates to the attention output, takes the fused kernel's own backward to q, k and v, and continues into
 * the projections before it, so the attention forward (the costliest part at long lengths) runs once.
 * Peak memory grows linearly with length.
 */
public final class StepRunner {
    private final LlamaModel model;
    private final ChunkedNll head;
    private final int checkpointLayers;
    private final int keepLast;
    private final SdpaAttention savingAttention;
    private final boolean documentAware;

    /**
     * @param checkpointLayers 0 for no activation checkpointing, else the number of layers per recomputed segment
     * @param documentAware reset positions per document and mask attention across documents
     */
    public StepRunner(LlamaModel model, int checkpointLayers, boolean documentAware) {
        this(model, checkpointLayers, 0, documentAware);
    }

    /**
     * @param keepLast under checkpointing, the last decoder layers that keep their graph rather than being recomputed
     *     (fewer than the model's layers)
     */
    public StepRunner(LlamaModel model, int checkpointLayers, int keepLast, boolean documentAware) {
        this(model, checkpointLayers, keepLast, false, documentAware);
    }

    /**
     * @param saveAttention selective checkpointing: every layer recomputed but its attention, whose output is kept
     *     (needs one layer per segment and the fused attention)
     */
    public StepRunner(LlamaModel model, int checkpointLayers, int keepLast, boolean saveAttention,
            boolean documentAware) {
        if (saveAttention && (checkpointLayers != 1 || !(model.attention() instanceof SdpaAttention))) {
            throw new io.longctx.LongctxException("activation_checkpointing: selective saves the fused attention's "
                    + "output per layer; it needs attention: sdpa and one layer per segment");
        }
        if (keepLast < 0 || keepLast >= Math.max(1, model.config().numLayers())) {
            throw new io.longctx.LongctxException("activation_checkpointing.keep_last: must be 0 to "
                    + (model.config().numLayers() - 1) + " for this model's " + model.config().numLayers()
                    + " layers, got " + keepLast);
        }
        this.model = model;
        this.head = new ChunkedNll(model);
        this.checkpointLayers = checkpointLayers;
        this.keepLast = checkpointLayers == 0 ? 0 : keepLast;
        this.savingAttention = saveAttention ? (SdpaAttention) model.attention() : null;
        this.documentAware = documentAware;
    }

    /**
     * Told, during backward, that the gradients of decoder layers [from, to) are complete for this micro-batch; the
     * output head (final norm, lm_head) counts as layer numLayers and is done first.
     */
    public interface GradientsReady {
        GradientsReady NONE = (from, to) -> { };

        void layersDone(int from, int to);
    }

    /** Number of targets that count towards the loss in these sequences. */
    public static long lossTokens(List<PackedSequence> sequences) {
        long n = 0;
        for (PackedSequence s : sequences) {
            n += Math.max(0, s.used() - 1);
        }
        return n;
    }

    /**
     * Adds d(loss)/d(parameters) to the gradients, where loss = (summed masked NLL of these sequences) x lossScale.
     *
     * @return the summed masked NLL (not scaled)
     */
    public double forwardBackward(NDManager parent, List<PackedSequence> batch, double lossScale) {
        return forwardBackward(parent, batch, lossScale, GradientsReady.NONE);
    }

    /**
     * As above, telling {@code ready} after each recomputed segment's backward that its layers' gradients are
     * complete (with activation checkpointing; without it the one backward call ends with all of them).
     */
    public double forwardBackward(NDManager parent, List<PackedSequence> batch, double lossScale,
            GradientsReady ready) {
        try (NDManager scope = parent.newSubManager()) {
            Inputs in = inputs(scope, batch);
            boolean previous = JniUtils.isGradMode();
            try {
                return checkpointLayers == 0 ? plain(scope, in, lossScale)
                        : checkpointed(scope, in, lossScale, ready);
            } finally {
                JniUtils.setGradMode(previous);
            }
        }
    }

    /** Summed masked NLL without gradients (validation), through the same chunked head. */
    public double loss(NDManager parent, List<PackedSequence> batch) {
        try (NDManager scope = parent.newSubManager()) {
            Inputs in = inputs(scope, batch);
            boolean previous = JniUtils.isGradMode();
            JniUtils.setGradMode(false);
            try {
                NDArray x = model.embed(scope, in.ids);
                for (int layer = 0; layer < model.config().numLayers(); layer++) {
                    NDArray next = model.decoderLayer(scope, layer, x, in.attention, null);
                    x.close();
                    x = next;
                }
                return head.sum(scope, x, in.targets, in.mask);
            } finally {
                JniUtils.setGradMode(previous);
            }
        }
    }

    private record Inputs(NDArray ids, NDArray targets, NDArray mask, LlamaModel.AttentionInputs attention) {
    }

    private Inputs inputs(NDManager scope, List<PackedSequence> batch) {
        int b = batch.size();
        int t = batch.get(0).length();
        long[] ids = new long[b * t];
        long[] targets = new long[b * t];
        float[] mask = new float[b * t];
        int[][] positions = new int[b][];
        int[][] documents = new int[b][];
        for (int i = 0; i < b; i++) {
            PackedSequence s = batch.get(i);
            int[] tokens = s.tokens();
            int[] lossMask = s.lossMask();
            for (int j = 0; j < t; j++) {
                ids[i * t + j] = tokens[j];
                targets[i * t + j] = j + 1 < t ? Math.max(0, tokens[j + 1]) : 0;
                mask[i * t + j] = lossMask[j];
            }
            positions[i] = s.positionIds();
            documents[i] = s.documentIds();
        }
        LlamaModel.AttentionInputs attention = documentAware ? model.packedInputs(scope, positions, documents)
                : model.contiguousInputs(scope, 0, t);
        return new Inputs(Tensors.fromLongs(scope, ids, new Shape(b, t)),
                Tensors.fromLongs(scope, targets, new Shape(b, t)), Tensors.fromFloats(scope, mask, new Shape(b, t)),
                attention);
    }

    private double plain(NDManager scope, Inputs in, double lossScale) {
        JniUtils.setGradMode(true);
        NDArray x = model.embed(scope, in.ids);
        for (int layer = 0; layer < model.config().numLayers(); layer++) {
            x = model.decoderLayer(scope, layer, x, in.attention, null);
        }
        double[] nll = {0};
        NDArray upstream = headBackward(scope, x, in, lossScale, nll);
        if (anyTrainable("model.layers.") || anyTrainable("model.embed_tokens.")) {
            backward(x, upstream);
        }
        JniUtils.setGradMode(false);
        return nll[0];
    }

    private double checkpointed(NDManager scope, Inputs in, double lossScale, GradientsReady ready) {
        int layers = model.config().numLayers();
        int recomputed = layers - keepLast;                                 // layers [0, recomputed) in segments
        List<NDArray> segmentInputs = new ArrayList<>();
        List<SdpaAttention.Saved> savedAttention = new ArrayList<>();
        JniUtils.setGradMode(false);
        NDArray x = model.embed(scope, in.ids);
        for (int layer = 0; layer < recomputed; layer++) {
            if (layer % checkpointLayers == 0) {
                segmentInputs.add(x);
            }
            NDArray next = savingAttention == null ? model.decoderLayer(scope, layer, x, in.attention, null)
                    : model.decoderLayer(scope, layer, x, in.attention, null, (q, k, v, inputs) -> {
                        SdpaAttention.Saved saved = inputs.documentStarts() == null
                                ? savingAttention.attendSaving(q, k, v)
                                : DocumentAttention.attendSaving(savingAttention, q, k, v, inputs.documentStarts());
                        saved.attach(scope);
                        savedAttention.add(saved);
                        return saved.output();                                 // (B, nh, T, hd)
                    });
            if (layer % checkpointLayers != 0) {
                x.close();
            }
            x = next;
        }
        JniUtils.setGradMode(true);
        double[] nll = {0};
        NDArray upstream;
        if (keepLast == 0) {
            upstream = headBackward(scope, x, in, lossScale, nll);
            ready.layersDone(layers, layers + 1);
        } else {
            // the kept layers run with their graph in a scope of their own, freed once their backward is done
            try (NDManager keptScope = scope.newSubManager()) {
                NDArray input = leaf(keptScope, x);                         // (B, T, H)
                x.close();
                NDArray out = input;
                for (int layer = recomputed; layer < layers; layer++) {
                    out = model.decoderLayer(keptScope, layer, out, in.attention, null);
                }
                NDArray top = headBackward(keptScope, out, in, lossScale, nll);
                ready.layersDone(layers, layers + 1);
                backward(out, top);
                ready.layersDone(recomputed, layers);
                upstream = gradientOf(input, scope);
            }
        }
        for (int segment = segmentInputs.size() - 1; segment >= 0; segment--) {
            if (savingAttention != null) {
                NDArray next = selectiveBackward(scope, segment, segmentInputs.get(segment),
                        savedAttention.get(segment), in.attention, upstream);
                ready.layersDone(segment, segment + 1);
                upstream.close();
                upstream = next;
                continue;
            }
            try (NDManager segmentScope = scope.newSubManager()) {
                NDArray input = leaf(segmentScope, segmentInputs.get(segment));
                NDArray out = input;
                int first = segment * checkpointLayers;
                int end = Math.min(recomputed, first + checkpointLayers);
                for (int layer = first; layer < end; layer++) {
                    out = model.decoderLayer(segmentScope, layer, out, in.attention, null);
                }
                backward(out, upstream);
                ready.layersDone(first, end);
                upstream.close();
                upstream = gradientOf(input, scope);
            }
        }
        if (anyTrainable("model.embed_tokens.")) {
            // a frozen embedding has no graph to feed: the gradient stops at the first layer's input
            try (NDManager embedScope = scope.newSubManager()) {
                backward(model.embed(embedScope, in.ids), upstream);
            }
        }
        JniUtils.setGradMode(false);
        return nll[0];
    }

    /**
     * Backward of one layer whose attention output was kept: the layer is recomputed with the kept output as a leaf
     * in place of attention, backpropagated to that leaf and (through the residual) to the layer's input; the
     * kernel's backward turns the leaf's gradient into those of q, k and v, which continue through RoPE, the
     * projections and the norm to the input. Frees what the layer kept; returns d(loss)/d(input) attached to scope.
     */
    private NDArray selectiveBackward(NDManager scope, int layer, NDArray keptInput, SdpaAttention.Saved saved,
            LlamaModel.AttentionInputs attention, NDArray upstream) {
        try (NDManager layerScope = scope.newSubManager()) {
            NDArray input = leaf(layerScope, keptInput);                        // (B, T, H)
            keptInput.close();
            NDArray output = saved.output();                                    // (B, nh, T, hd)
            output.setRequiresGradient(true);
            NDList qkv = new NDList(3);
            NDArray out = model.decoderLayer(layerScope, layer, input, attention, null, (q, k, v, inputs) -> {
                for (NDArray t : new NDArray[] {q, k, v}) {
                    t.attach(layerScope);                                       // outlive the layer's own scope
                    qkv.add(t);
                }
                return output;
            });
            backward(out, upstream);              // output projection, MLP, norms after attention, residual path
            NDArray gradOutput = output.getGradient();
            gradOutput.attach(layerScope);
            NDList gradients = attention.documentStarts() == null
                    ? savingAttention.gradients(gradOutput, qkv.get(0), qkv.get(1), qkv.get(2), saved)
                    : DocumentAttention.gradients(savingAttention, gradOutput, qkv.get(0), qkv.get(1), qkv.get(2),
                            saved, attention.documentStarts());
            savingAttention.backwardInto(qkv, gradients);       // RoPE, q/k/v projections, norm, into the input
            saved.close();
            return gradientOf(input, scope);
        }
    }

    /**
     * The chunked head over the residual stream (B, T, H) as a new leaf, each chunk backpropagated at once; adds the
     * summed NLL to nll[0] and returns the gradient of the residual stream (attached to scope).
     */
    private NDArray headBackward(NDManager scope, NDArray residual, Inputs in, double lossScale, double[] nll) {
        try (NDManager headScope = scope.newSubManager()) {
            NDArray top = leaf(headScope, residual);
            head.forEachChunk(headScope, top, in.targets, (from, chunkNll) -> {
                NDArray mask = in.mask.get(new NDIndex(":, {}:{}", from, from + chunkNll.getShape().get(1)));
                NDArray sum = chunkNll.mul(mask).sum();
                nll[0] += sum.getFloat();
                backward(sum.mul(Tensors.scalar(mask.getManager(), lossScale, DataType.FLOAT32)), null);
            });
            if (top.hasGradient()) {
                return gradientOf(top, scope);
            }
            NDArray zeros = PrecisionOps.shared().zerosLike(top);
            zeros.attach(scope);
            return zeros;
        }
    }

    /** A copy of x that is a leaf of a new graph and collects its own gradient. */
    private static NDArray leaf(NDManager scope, NDArray x) {
        NDArray copy = x.duplicate();
        copy.attach(scope);
        copy.setRequiresGradient(true);
        return copy;
    }

    private static NDArray gradientOf(NDArray leaf, NDManager owner) {
        NDArray grad = leaf.getGradient().duplicate();
        grad.attach(owner);
        return grad;
    }

    /** Whether any parameter whose name starts with prefix is trainable (so the graph reaches there). */
    private boolean anyTrainable(String prefix) {
        for (Map.Entry<String, NDArray> e : model.weights().tensors().entrySet()) {
            if (e.getKey().startsWith(prefix) && e.getValue().hasGradient()) {
                return true;
            }
        }
        return false;
    }

    private static void backward(NDArray output, NDArray upstream) {
        NDArray seed = upstream != null ? upstream : output.onesLike();
        JniUtils.backward((PtNDArray) output, (PtNDArray) seed, false, false);
    }
}
