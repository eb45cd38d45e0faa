package io.longctx.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.longctx.LongctxException;
import io.longctx.engine.Tensors;
import io.longctx.model.LlamaWeights;
import io.longctx.model.ModelConfig;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Creating weights for training and choosing which of them train. */
public final class Parameters {
    private Parameters() {
    }

    /** Seeded random initialisation: N(0, std) for matrices and embeddings, ones for RMSNorm weights, zero biases. */
    public static LlamaWeights randomInit(ModelConfig config, double std, long seed, NDManager parent) {
        NDManager manager = parent.newSubManager();
        Random random = new Random(seed);
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : config.expectedTensors().entrySet()) {
            Shape shape = new Shape(e.getValue());
            float[] values = new float[Math.toIntExact(shape.size())];
            String name = e.getKey();
            if (name.endsWith("norm.weight")) {
                java.util.Arrays.fill(values, 1f);
            } else if (!name.endsWith(".bias")) {
                for (int i = 0; i < values.length; i++) {
                    values[i] = (float) (random.nextGaussian() * std);
                }
            }
            tensors.put(name, Tensors.fromFloats(manager, values, shape));
        }
        return LlamaWeights.of(config, manager, tensors);
    }

    /** The names that match one of the glob patterns ("*" matches everything, across dots), in their order. */
    public static java.util.Set<String> matching(java.util.Collection<String> names, List<String> patterns) {
        List<PathMatcher> matchers = new ArrayList<>();
        for (String pattern : patterns) {
            // names are dotted, so match them as one path segment where '*' crosses dots
            matchers.add(FileSystems.getDefault().getPathMatcher("glob:" + pattern.replace("*", "**")));
        }
        java.util.Set<String> selected = new java.util.LinkedHashSet<>();
        for (String name : names) {
            for (PathMatcher matcher : matchers) {
                if (matcher.matches(Path.of(name))) {
                    selected.add(name);
                    break;
                }
            }
        }
        return selected;
    }

    /** The parameters whose HF names match one of the glob patterns ("*" matches everything). */
    public static Map<String, NDArray> select(LlamaWeights weights, List<String> patterns) {
        Map<String, NDArray> selected = new LinkedHashMap<>();
        for (String name : matching(weights.tensors().keySet(), patterns)) {
            selected.put(name, weights.get(name));
        }
        if (selected.isEmpty()) {
            throw new LongctxException("train.trainable " + patterns + " matches no parameter (names look like "
                    + weights.tensors().keySet().iterator().next() + ")");
        }
        return selected;
    }

    public static long count(Map<String, NDArray> parameters) {
        long n = 0;
        for (NDArray p : parameters.values()) {
            n += p.size();
        }
        return n;
    }
}
