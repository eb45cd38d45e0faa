package io.longctx.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.longctx.data.pack.PackedSequence;
import io.longctx.engine.Tensors;
import io.longctx.model.LlamaModel;
import java.util.ArrayList;
import java.util.List;

/**
 * Forward and backward of one micro-batch, accumulating parameter gradients. Without activation checkpointing the
 * whole graph is kept; with it, the forward runs without a graph keeping only the input of every k-layer segment,
 * and backward recomputes each segment with a graph, last to first, feeding the gradient of its output and taking
 * the gradient of its input to the previous segment. The output head and loss then also run in chunks of positions,
 * so no (length, vocabulary) logits tensor is ever whole: peak memory grows linearly with length.
 */
public final class StepRunner {
    /** Positions per output-head chunk under checkpointing: bounds the (positions, vocab) logits in memory. */
    static final int HEAD_CHUNK = 512;

    private final LlamaModel model;
    private final int checkpointLayers;
    private final boolean documentAware;

    /**
     * @param checkpointLayers 0 for no activation checkpointing, else the number of layers per recomputed segment
     * @param documentAware reset positions per document and mask attention across documents
     */
    public StepRunner(LlamaModel model, int checkpointLayers, boolean documentAware) {
        this.model = model;
        this.checkpointLayers = checkpointLayers;
        this.documentAware = documentAware;
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
        try (NDManager scope = parent.newSubManager()) {
            Inputs in = inputs(scope, batch);
            boolean previous = JniUtils.isGradMode();
            try {
                return checkpointLayers == 0 ? plain(scope, in, lossScale) : checkpointed(scope, in, lossScale);
            } finally {
                JniUtils.setGradMode(previous);
            }
        }
    }

    /** Summed masked NLL without gradients (validation). */
    public double loss(NDManager parent, List<PackedSequence> batch) {
        try (NDManager scope = parent.newSubManager()) {
            Inputs in = inputs(scope, batch);
            boolean previous = JniUtils.isGradMode();
            JniUtils.setGradMode(false);
            try {
                NDArray x = model.embed(scope, in.ids);
                for (int layer = 0; layer < model.config().numLayers(); layer++) {
                    x = model.decoderLayer(scope, layer, x, in.attention, null);
                }
                return nllSum(model.finalNorm(x), in).getFloat();
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

    /** -sum(log p(target) x mask) over the batch, from final-normed hidden states (B, T, H). */
    private NDArray nllSum(NDArray hidden, Inputs in) {
        NDArray logProbs = model.head(hidden).logSoftmax(2);                          // (B, T, V)
        NDArray picked = logProbs.gather(in.targets.expandDims(2), 2).squeeze(2);      // (B, T)
        return picked.mul(in.mask).sum().neg();
    }

    private double plain(NDManager scope, Inputs in, double lossScale) {
        JniUtils.setGradMode(true);
        NDArray x = model.embed(scope, in.ids);
        for (int layer = 0; layer < model.config().numLayers(); layer++) {
            x = model.decoderLayer(scope, layer, x, in.attention, null);
        }
        NDArray nll = nllSum(model.finalNorm(x), in);
        backward(nll.mul(Tensors.scalar(scope, lossScale, DataType.FLOAT32)), null);
        JniUtils.setGradMode(false);
        return nll.getFloat();
    }

    private double checkpointed(NDManager scope, Inputs in, double lossScale) {
        int layers = model.config().numLayers();
        List<NDArray> segmentInputs = new ArrayList<>();
        JniUtils.setGradMode(false);
        NDArray x = model.embed(scope, in.ids);
        for (int layer = 0; layer < layers; layer++) {
            if (layer % checkpointLayers == 0) {
                segmentInputs.add(x);
            }
            NDArray next = model.decoderLayer(scope, layer, x, in.attention, null);
            if (layer % checkpointLayers != 0) {
                x.close();
            }
            x = next;
        }
        JniUtils.setGradMode(true);
        double nllValue = 0;
        NDArray upstream;
        try (NDManager head = scope.newSubManager()) {
            // the output head in position chunks, each with its own backward: (chunk, vocab) logits at a time
            NDArray top = leaf(head, x);
            long t = top.getShape().get(1);
            for (long a = 0; a < t; a += HEAD_CHUNK) {
                long b = Math.min(t, a + HEAD_CHUNK);
                try (NDManager chunk = head.newSubManager()) {
                    NDIndex range = new NDIndex(":, {}:{}", a, b);
                    NDArray part = top.get(range);
                    part.attach(chunk);
                    Inputs slice = new Inputs(null, in.targets.get(range), in.mask.get(range), null);
                    NDArray nll = nllSum(model.finalNorm(part), slice);
                    nllValue += nll.getFloat();
                    backward(nll.mul(Tensors.scalar(chunk, lossScale, DataType.FLOAT32)), null);
                }
            }
            upstream = gradientOf(top, scope);
        }
        for (int segment = segmentInputs.size() - 1; segment >= 0; segment--) {
            try (NDManager segmentScope = scope.newSubManager()) {
                NDArray input = leaf(segmentScope, segmentInputs.get(segment));
                NDArray out = input;
                int first = segment * checkpointLayers;
                for (int layer = first; layer < Math.min(layers, first + checkpointLayers); layer++) {
                    out = model.decoderLayer(segmentScope, layer, out, in.attention, null);
                }
                backward(out, upstream);
                upstream.close();
                upstream = gradientOf(input, scope);
            }
        }
        try (NDManager embedScope = scope.newSubManager()) {
            backward(model.embed(embedScope, in.ids), upstream);
        }
        JniUtils.setGradMode(false);
        return nllValue;
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

    private static void backward(NDArray output, NDArray upstream) {
        NDArray seed = upstream != null ? upstream : output.onesLike();
        JniUtils.backward((PtNDArray) output, (PtNDArray) seed, false, false);
    }
}
