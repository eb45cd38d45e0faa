package io.longctx.train;

import io.longctx.model.TensorSource;
import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.longctx.LongctxException;
import io.longctx.lora.BaseIdentity;
import io.longctx.lora.LoraConfig;
import io.longctx.lora.LoraWeights;
import io.longctx.model.LlamaWeights;
import io.longctx.model.ModelConfig;
import io.longctx.recipe.RecipeNode;
import io.longctx.safetensors.DType;
import io.longctx.safetensors.SafetensorsFile;
import io.longctx.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Exports of a LoRA checkpoint: the merged model (W + scale B A, the trained extras in place of the base's), or a
 * PEFT adapter directory that PEFT loads over the base. Both first check that the base on disk is the one the
 * checkpoint was trained on.
 */
public final class LoraExport {
    private static final String PEFT_PREFIX = "base_model.model.";

    private LoraExport() {
    }

    /** The merged weights in host memory, released on close. */
    public record Merged(NDManager manager, Map<String, NDArray> tensors) implements AutoCloseable {
        TensorSource source() {
            return TensorSource.of(tensors);
        }

        @Override
        public void close() {
            manager.close();
        }
    }

    /** The checkpoint's lora section, from the recipe it was trained with. */
    public static LoraConfig loraConfig(Path checkpoint) {
        RecipeNode root = RecipeNode.load(checkpoint.resolve("recipe.yaml"), List.of());
        LoraConfig lora = LoraConfig.parse(root.get("lora"));
        if (lora == null) {
            throw new LongctxException(checkpoint + ": holds adapters but its recipe.yaml has no lora section");
        }
        return lora;
    }

    static Path verifiedBase(Path checkpoint) {
        BaseIdentity recorded = Checkpoints.base(checkpoint);
        recorded.requireSame(BaseIdentity.of(recorded.path()), checkpoint, "export");
        return recorded.path();
    }

    public static Merged merged(Path checkpoint) {
        Path base = verifiedBase(checkpoint);
        ModelConfig config = ModelConfig.parse(readJson(checkpoint.resolve("config.json")),
                checkpoint.resolve("config.json").toString());
        LoraConfig lora = loraConfig(checkpoint);
        NDManager manager = NDManager.newBaseManager(Device.cpu());
        try {
            LlamaWeights weights = LoraWeights.load(base, config, lora, 0,
                    checkpoint.resolve(Checkpoints.ADAPTER), manager);
            Map<String, NDArray> merged = new LinkedHashMap<>();
            for (Map.Entry<String, NDArray> e : weights.tensors().entrySet()) {
                String name = e.getKey();
                if (LlamaWeights.isAdapter(name)) {
                    continue;
                }
                String module = name.endsWith(".weight") ? name.substring(0, name.length() - ".weight".length()) : "";
                NDArray a = weights.optional(module + ".lora_A.weight");              // (r, in)
                if (a == null) {
                    merged.put(name, e.getValue());
                    continue;
                }
                NDArray delta = weights.get(module + ".lora_B.weight").matMul(a);    // (out, in)
                merged.put(name, e.getValue().add(delta.mul(lora.scale())));
            }
            return new Merged(manager, merged);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /**
     * A PEFT adapter directory: adapter_config.json, adapter_model.safetensors under PEFT's names, the scaled
     * config.json and the tokenizer.
     */
    public static void writeAdapter(Path checkpoint, Path out, DType dtype) {
        Path base = verifiedBase(checkpoint);
        LoraConfig lora = loraConfig(checkpoint);
        try {
            Files.createDirectories(out);
            Set<String> modulesToSave = new LinkedHashSet<>();
            SafetensorsWriter writer = new SafetensorsWriter(dtype).metadata("format", "pt");
            try (SafetensorsFile file = SafetensorsFile.open(checkpoint.resolve(Checkpoints.ADAPTER))) {
                for (String name : file.tensors().keySet()) {
                    writer.addRows(PEFT_PREFIX + name, file.entry(name).shape(),
                            (from, to) -> file.readFloats(name, from, to));
                    if (!LlamaWeights.isAdapter(name)) {
                        String module = name.substring(0, name.lastIndexOf('.'));
                        modulesToSave.add(module.substring(module.lastIndexOf('.') + 1));
                    }
                }
                writer.write(out.resolve("adapter_model.safetensors"));
            }
            Map<String, Object> config = new LinkedHashMap<>();
            config.put("peft_type", "LORA");
            config.put("task_type", "CAUSAL_LM");
            config.put("base_model_name_or_path", base.toString());
            config.put("r", lora.rank());
            config.put("lora_alpha", lora.alpha());
            config.put("lora_dropout", 0.0);
            config.put("bias", "none");
            config.put("fan_in_fan_out", false);
            config.put("inference_mode", true);
            config.put("target_modules", lora.targets());
            config.put("modules_to_save", modulesToSave.isEmpty() ? null : new ArrayList<>(modulesToSave));
            ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            Files.writeString(out.resolve("adapter_config.json"), json.writeValueAsString(config));
            Files.copy(checkpoint.resolve("config.json"), out.resolve("config.json"),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Exporter.copyTokenizer(checkpoint, out);
        } catch (IOException e) {
            throw new LongctxException(out + ": cannot write the adapter (" + e.getMessage() + ")");
        }
    }

    private static com.fasterxml.jackson.databind.JsonNode readJson(Path file) {
        try {
            return new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new LongctxException(file + ": unreadable (" + e.getMessage() + ")");
        }
    }
}
