package io.longctx.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.longctx.LongctxException;
import io.longctx.engine.Tensors;
import io.longctx.model.LlamaWeights;
import io.longctx.model.ModelConfig;
import io.longctx.safetensors.RowSlices;
import io.longctx.safetensors.SafetensorsFile;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/** A base model with LoRA adapters: fresh ones, or a LoRA checkpoint's trained tensors laid over the base. */
public final class LoraWeights {
    private LoraWeights() {
    }

    /**
     * @param trained a checkpoint's adapter.safetensors (adapters and the extra trainable tensors), or null to start
     *     with fresh adapters
     */
    public static LlamaWeights load(Path baseDir, ModelConfig config, LoraConfig lora, long seed, Path trained,
            NDManager manager) {
        LlamaWeights base = LlamaWeights.load(baseDir, config, manager);
        if (trained == null) {
            return base.withAdapters(LoraAdapters.init(config, lora, seed, base.manager()), lora.scale());
        }
        Map<String, long[]> adapterShapes = lora.adapterShapes(config);
        Map<String, NDArray> tensors = new LinkedHashMap<>(base.tensors());
        Map<String, NDArray> adapters = new LinkedHashMap<>();
        try (SafetensorsFile file = SafetensorsFile.open(trained)) {
            for (String name : adapterShapes.keySet()) {
                if (!file.tensors().containsKey(name)) {
                    throw new LongctxException(trained + ": adapter tensor '" + name + "' missing (the lora section "
                            + "must match the checkpoint's: rank " + lora.rank() + ", targets " + lora.targets() + ")");
                }
            }
            for (String name : file.tensors().keySet()) {
                long[] expected = adapterShapes.containsKey(name) ? adapterShapes.get(name)
                        : config.expectedTensors().get(name);
                if (expected == null || !Arrays.equals(expected, file.entry(name).shape())) {
                    throw new LongctxException(trained + ": tensor '" + name + "' is not part of this model and "
                            + "adapter layout (shape " + Arrays.toString(file.entry(name).shape()) + ")");
                }
                NDArray value = Tensors.fromSafetensors(base.manager(), file, name, RowSlices.DEFAULT_BYTES,
                        (a, b, data) -> { });
                if (adapterShapes.containsKey(name)) {
                    adapters.put(name, value);
                } else {
                    tensors.put(name, value).close();        // a trained extra replaces the base's copy
                }
            }
        }
        return LlamaWeights.of(config, base.manager(), tensors).withAdapters(adapters, lora.scale());
    }
}
