package io.longctx.eval;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.Closing;
import io.longctx.LongctxException;
import io.longctx.data.tokenize.TextTokenizer;
import io.longctx.engine.Attention;
import io.longctx.engine.PlainAttention;
import io.longctx.engine.Precision;
import io.longctx.engine.PrecisionOps;
import io.longctx.engine.SdpaAttention;
import io.longctx.model.LlamaModel;
import io.longctx.model.LlamaWeights;
import io.longctx.model.ModelConfig;
import io.longctx.rope.NoScaling;
import io.longctx.rope.RopeScaling;
import io.longctx.rope.LongRopeScaling;
import io.longctx.rope.RopeScalingParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** A model loaded for a command: weights, attention implementation, optional tokenizer, all closed together. */
public final class ModelSession implements AutoCloseable {
    public final Path dir;
    public final NDManager manager;
    public final LlamaWeights weights;
    public final LlamaModel model;
    public final TextTokenizer tokenizer;
    private final Attention attention;

    private ModelSession(Path dir, NDManager manager, LlamaWeights weights, Attention attention, LlamaModel model,
            TextTokenizer tokenizer) {
        this.dir = dir;
        this.manager = manager;
        this.weights = weights;
        this.attention = attention;
        this.model = model;
        this.tokenizer = tokenizer;
    }

    /**
     * @param ropeOverride a --rope-scaling value, or null to keep the model's own scaling
     * @param attentionName "sdpa" or "plain"
     */
    public static ModelSession open(Path dir, String ropeOverride, String attentionName) {
        return open(dir, ropeOverride, attentionName, null);
    }

    /**
     * @param precision what the forward pass computes in, or null for the device's default: bf16 on a GPU, fp32 on
     *     CPU (where bf16 matrix products are many times slower). Norm statistics, RoPE and the loss stay fp32.
     */
    public static ModelSession open(Path dir, String ropeOverride, String attentionName, Precision precision) {
        ModelConfig config = ModelConfig.load(dir);
        RopeScaling scaling = ropeOverride == null ? config.ropeScaling() : parseRopeScaling(ropeOverride, config);
        NDManager manager = NDManager.newBaseManager();
        Precision compute = precision != null ? precision
                : manager.getDevice().isGpu() ? Precision.BF16 : Precision.FP32;
        if (compute == Precision.BF16 && attentionName.equals("plain")) {
            manager.close();
            throw new LongctxException("--attention plain runs in fp32 only; use sdpa with --precision bf16");
        }
        Attention attention = null;
        try {
            LlamaWeights weights = inPrecision(LlamaWeights.load(dir, config, manager), compute, manager);
            attention = attention(attentionName);
            TextTokenizer tokenizer = TextTokenizer.exists(dir) ? TextTokenizer.load(dir) : null;
            return new ModelSession(dir, manager, weights, attention, new LlamaModel(weights, attention, scaling),
                    tokenizer);
        } catch (RuntimeException e) {
            if (attention instanceof AutoCloseable) {
                Closing.quietly((AutoCloseable) attention);
            }
            manager.close();
            throw e;
        }
    }

    /** The weights as loaded (fp32), or bf16 copies of them with the fp32 ones released. */
    private static LlamaWeights inPrecision(LlamaWeights loaded, Precision precision, NDManager manager) {
        if (precision == Precision.FP32) {
            return loaded;
        }
        NDManager owner = manager.newSubManager();
        java.util.Map<String, ai.djl.ndarray.NDArray> cast = new java.util.LinkedHashMap<>();
        try (loaded) {
            loaded.tensors().forEach((name, tensor) -> {
                ai.djl.ndarray.NDArray copy = PrecisionOps.shared().cast(tensor, precision);
                copy.attach(owner);
                cast.put(name, copy);
            });
        }
        return LlamaWeights.of(loaded.config(), owner, cast);
    }

    static Attention attention(String name) {
        return switch (name) {
            case "sdpa" -> SdpaAttention.create();
            case "plain" -> new PlainAttention();
            default -> throw new LongctxException("--attention must be sdpa or plain, got '" + name + "'");
        };
    }

    /**
     * A --rope-scaling value: "none", "model" (the config's own), an inline JSON object in HF rope_scaling form,
     * or a JSON file holding such an object or a whole config.json.
     */
    public static RopeScaling parseRopeScaling(String value, ModelConfig config) {
        String trimmed = value.trim();
        if (trimmed.equals("model")) {
            return config.ropeScaling();
        }
        if (trimmed.equals("none")) {
            return new NoScaling();
        }
        ObjectMapper mapper = new ObjectMapper();
        JsonNode node;
        String source;
        try {
            if (trimmed.startsWith("{")) {
                node = mapper.readTree(trimmed);
                source = "--rope-scaling";
            } else {
                Path file = Path.of(trimmed);
                if (!Files.isRegularFile(file)) {
                    throw new LongctxException("--rope-scaling: '" + value + "' is neither none, model, a JSON "
                            + "object nor an existing file");
                }
                node = mapper.readTree(file.toFile());
                source = file.toString();
                if (node != null && node.has("rope_scaling")) {
                    node = node.get("rope_scaling");
                    source += ": rope_scaling";
                }
            }
        } catch (IOException e) {
            String reason = e instanceof JsonProcessingException json ? json.getOriginalMessage() : e.getMessage();
            throw new LongctxException("--rope-scaling: not valid JSON (" + reason + ")");
        }
        RopeScaling scaling = new RopeScalingParser(config.maxPositions(), null).parseStrict(node, source);
        if (scaling instanceof LongRopeScaling longRope && longRope.pairsProblem(config.rotaryDim() / 2) != null) {
            throw new LongctxException(source + ": " + longRope.pairsProblem(config.rotaryDim() / 2));
        }
        return scaling;
    }


    public Integer bosId() {
        return weights.config().bosTokenId();
    }

    @Override
    public void close() {
        if (tokenizer != null) {
            tokenizer.close();
        }
        if (attention instanceof AutoCloseable closeable) {
            Closing.quietly(closeable);
        }
        weights.close();
        manager.close();
    }
}
