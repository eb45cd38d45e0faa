package io.longctx.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.longctx.LongctxException;
import io.longctx.engine.Tensors;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parameters of a decoder under their HF names, in torch-owned memory, and any LoRA adapters
 * ({@code <module>.lora_A.weight}, {@code <module>.lora_B.weight}) with the factor on their product.
 */
public final class LlamaWeights implements AutoCloseable {
    private static final String ADAPTER_A = ".lora_A.weight";
    private static final String ADAPTER_B = ".lora_B.weight";
    private final ModelConfig config;
    private final NDManager manager;
    private final Map<String, NDArray> tensors;
    private final List<String> ignored;
    private final double loraScale;

    private LlamaWeights(ModelConfig config, NDManager manager, Map<String, NDArray> tensors, List<String> ignored,
            double loraScale) {
        this.config = config;
        this.manager = manager;
        this.tensors = tensors;
        this.ignored = ignored;
        this.loraScale = loraScale;
    }

    /** Validates every name, shape and dtype against the config first, then streams the tensors in. */
    public static LlamaWeights load(Path dir, ModelConfig config, NDManager parent) {
        return load(dir, config, parent, io.longctx.safetensors.RowSlices.DEFAULT_BYTES);
    }

    /** @param sliceBytes largest fp32 slice read at once (a tensor above it is read in row slices and joined) */
    static LlamaWeights load(Path dir, ModelConfig config, NDManager parent, long sliceBytes) {
        HfCheckpoint checkpoint = HfCheckpoint.locate(dir);
        List<String> ignored = checkpoint.validate(config);
        Map<String, long[]> shapes = config.expectedTensors();
        NDManager manager = parent.newSubManager();
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        try {
            checkpoint.load(config, (name, file) -> tensors.put(name, Tensors.fromSafetensors(manager, file, name,
                    sliceBytes, (from, to, data) -> requireFinite(dir, name, from * io.longctx.safetensors.RowSlices
                            .rowElements(shapes.get(name)), data))));
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
        return new LlamaWeights(config, manager, orderedAs(shapes, tensors), ignored, 0);
    }

    /** A NaN or infinity in a weight makes every score NaN: refuse the model, naming the tensor. */
    static void requireFinite(Path dir, String name, long firstElement, ByteBuffer data) {
        FloatBuffer values = data.asFloatBuffer();
        int bad = 0;
        int first = -1;
        for (int i = 0; i < values.limit(); i++) {
            if (!Float.isFinite(values.get(i))) {
                bad++;
                if (first < 0) {
                    first = i;
                }
            }
        }
        if (bad > 0) {
            throw new LongctxException(dir + ": tensor '" + name + "' holds " + bad + " NaN or infinite value(s) "
                    + "(first at element " + (firstElement + first) + "); the weights are corrupt");
        }
    }

    /** Wraps arrays already in memory (random init, tests); every expected name must be present. */
    public static LlamaWeights of(ModelConfig config, NDManager manager, Map<String, NDArray> tensors) {
        return of(config, manager, tensors, 0);
    }

    /** As {@link #of(ModelConfig, NDManager, Map)}, keeping adapter tensors and their factor. */
    public static LlamaWeights of(ModelConfig config, NDManager manager, Map<String, NDArray> tensors,
            double loraScale) {
        Map<String, long[]> shapes = config.expectedTensors();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            NDArray array = tensors.get(e.getKey());
            if (array == null || !array.getShape().equals(new Shape(e.getValue()))) {
                throw new LongctxException("tensor '" + e.getKey() + "' missing or of the wrong shape");
            }
        }
        return new LlamaWeights(config, manager, orderedAs(shapes, tensors), List.of(), loraScale);
    }

    /** These weights with adapters added (attached to this manager): W x becomes W x + scale B (A x). */
    public LlamaWeights withAdapters(Map<String, NDArray> adapters, double scale) {
        Map<String, NDArray> all = new LinkedHashMap<>(tensors);
        adapters.forEach((name, tensor) -> {
            if (!isAdapter(name)) {
                throw new IllegalArgumentException("not an adapter tensor: " + name);
            }
            tensor.attach(manager);
            all.put(name, tensor);
        });
        return new LlamaWeights(config, manager, Collections.unmodifiableMap(all), ignored, scale);
    }

    public static boolean isAdapter(String name) {
        return name.endsWith(ADAPTER_A) || name.endsWith(ADAPTER_B);
    }

    /** The factor on B A; 0 without adapters. */
    public double loraScale() {
        return loraScale;
    }

    /** The base tensors in checkpoint order, then any adapter tensors in the order given. */
    private static Map<String, NDArray> orderedAs(Map<String, long[]> shapes, Map<String, NDArray> tensors) {
        Map<String, NDArray> ordered = new LinkedHashMap<>();
        shapes.keySet().forEach(name -> ordered.put(name, tensors.get(name)));
        tensors.forEach((name, tensor) -> {
            if (isAdapter(name)) {
                ordered.put(name, tensor);
            }
        });
        return Collections.unmodifiableMap(ordered);
    }

    public ModelConfig config() {
        return config;
    }

    public NDManager manager() {
        return manager;
    }

    /** All parameters in checkpoint order, adapters last. */
    public Map<String, NDArray> tensors() {
        return tensors;
    }

    /** Checkpoint tensors that the architecture does not use (e.g. stored rotary buffers). */
    public List<String> ignored() {
        return ignored;
    }

    public NDArray get(String name) {
        NDArray array = tensors.get(name);
        if (array == null) {
            throw new IllegalArgumentException("no tensor " + name);
        }
        return array;
    }

    /** The tensor or null, for optional biases. */
    public NDArray optional(String name) {
        return tensors.get(name);
    }

    public NDArray outputHead() {
        return config.tieWordEmbeddings() ? get("model.embed_tokens.weight") : get("lm_head.weight");
    }

    @Override
    public void close() {
        manager.close();
    }
}
