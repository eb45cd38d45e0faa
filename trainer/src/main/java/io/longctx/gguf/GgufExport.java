package io.longctx.gguf;

import io.longctx.LongctxException;
import io.longctx.model.HfConfigJson;
import io.longctx.model.ModelConfig;
import io.longctx.model.TensorSource;
import io.longctx.rope.RopeScaling;
import io.longctx.safetensors.DType;
import io.longctx.safetensors.RowSlices;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Llama-family model as one GGUF file llama.cpp loads: hyper-parameters under the architecture's keys (llama for
 * Llama and Mistral, qwen2 for Qwen2), the RoPE scaling in llama.cpp's form, the tokenizer, and the tensors under
 * llama.cpp's names. For the llama architecture q and k rows are permuted from HF's half-split rotary layout to
 * llama.cpp's interleaved pairs, as llama.cpp's own converter does; qwen2 uses the half-split layout unchanged.
 * Matrices are written in the requested type, norms, biases and frequency factors in F32.
 */
public final class GgufExport {
    private static final Pattern LAYER = Pattern.compile("model\\.layers\\.(\\d+)\\.(.+)");
    private static final Map<String, String> LAYER_NAMES = Map.ofEntries(
            Map.entry("input_layernorm.weight", "attn_norm.weight"),
            Map.entry("self_attn.q_proj.weight", "attn_q.weight"), Map.entry("self_attn.q_proj.bias", "attn_q.bias"),
            Map.entry("self_attn.k_proj.weight", "attn_k.weight"), Map.entry("self_attn.k_proj.bias", "attn_k.bias"),
            Map.entry("self_attn.v_proj.weight", "attn_v.weight"), Map.entry("self_attn.v_proj.bias", "attn_v.bias"),
            Map.entry("self_attn.o_proj.weight", "attn_output.weight"),
            Map.entry("self_attn.o_proj.bias", "attn_output.bias"),
            Map.entry("post_attention_layernorm.weight", "ffn_norm.weight"),
            Map.entry("mlp.gate_proj.weight", "ffn_gate.weight"), Map.entry("mlp.gate_proj.bias", "ffn_gate.bias"),
            Map.entry("mlp.up_proj.weight", "ffn_up.weight"), Map.entry("mlp.up_proj.bias", "ffn_up.bias"),
            Map.entry("mlp.down_proj.weight", "ffn_down.weight"), Map.entry("mlp.down_proj.bias", "ffn_down.bias"));

    private GgufExport() {
    }

    /** llama.cpp's architecture for a model type. */
    public static String architecture(ModelConfig config) {
        return config.modelType().equals("qwen2") ? "qwen2" : "llama";
    }

    /** Null when the model can be written as GGUF, else one line saying what cannot. */
    public static String problem(ModelConfig config) {
        if (config.partialRotaryFactor() != 1.0) {
            return "partial_rotary_factor " + config.partialRotaryFactor() + " cannot be exported to GGUF: "
                    + "llama.cpp's " + architecture(config) + " architecture rotates whole heads";
        }
        return GgufRope.problem(config.ropeScaling(), config.ropeGeometry(), architecture(config));
    }

    /**
     * @param config the trained architecture, its RoPE scaling included
     * @param dtype F32, F16 or BF16 for the matrices
     */
    public static void write(ModelConfig config, TensorSource tensors, GgufVocabulary vocabulary, DType dtype,
            Path file) {
        String problem = problem(config);
        if (problem != null) {
            throw new LongctxException(problem);
        }
        if (vocabulary.tokens().size() != config.vocabSize()) {
            throw new LongctxException(file + ": the vocabulary has " + vocabulary.tokens().size() + " tokens, the "
                    + "model " + config.vocabSize());
        }
        String arch = architecture(config);
        GgufRope.Form.Expressed rope = (GgufRope.Form.Expressed) GgufRope.of(config.ropeScaling(),
                config.ropeGeometry(), arch);
        GgufWriter gguf = new GgufWriter();
        GgufWriter.TensorType matrixType = GgufWriter.TensorType.of(dtype);
        gguf.putString("general.architecture", arch);
        gguf.putString("general.name", "longctx export");
        gguf.putU32("general.alignment", GgufWriter.ALIGNMENT);
        gguf.putU32("general.file_type", switch (matrixType) {
            case F32 -> 0;
            case F16 -> 1;
            case BF16 -> 32;
        });
        writeHyperParameters(gguf, arch, config, rope);
        vocabulary.writeTo(gguf);
        if (rope.freqFactors() != null) {
            float[] factors = rope.freqFactors();
            gguf.addTensor("rope_freqs.weight", new long[] {factors.length}, GgufWriter.TensorType.F32,
                    (from, to) -> java.util.Arrays.copyOfRange(factors, (int) from, (int) to));
        }
        for (String name : tensors.names()) {
            long[] shape = tensors.shape(name);
            String target = ggufName(name, file);
            GgufWriter.TensorType type = shape.length == 1 ? GgufWriter.TensorType.F32 : matrixType;
            RowSlices.Source rows = (from, to) -> tensors.rows(name, from, to);
            if (arch.equals("llama") && target.matches("blk\\.\\d+\\.attn_[qk]\\.(weight|bias)")) {
                int heads = target.contains(".attn_q.") ? config.numHeads() : config.numKvHeads();
                rows = interleavedRows(tensors, name, shape, heads);
            }
            gguf.addTensor(target, shape, type, rows);
        }
        gguf.write(file);
    }

    private static void writeHyperParameters(GgufWriter gguf, String arch, ModelConfig config,
            GgufRope.Form.Expressed rope) {
        RopeScaling scaling = config.ropeScaling();
        long context = HfConfigJson.maxPositions(config, scaling, scaling.originalContext(config.maxPositions()));
        gguf.putU32(arch + ".context_length", context);
        gguf.putU32(arch + ".embedding_length", config.hiddenSize());
        gguf.putU32(arch + ".block_count", config.numLayers());
        gguf.putU32(arch + ".feed_forward_length", config.intermediateSize());
        gguf.putU32(arch + ".attention.head_count", config.numHeads());
        gguf.putU32(arch + ".attention.head_count_kv", config.numKvHeads());
        if (config.headDim() * config.numHeads() != config.hiddenSize()) {
            gguf.putU32(arch + ".attention.key_length", config.headDim());
            gguf.putU32(arch + ".attention.value_length", config.headDim());
        }
        gguf.putF32(arch + ".attention.layer_norm_rms_epsilon", config.rmsNormEps());
        gguf.putU32(arch + ".rope.dimension_count", config.rotaryDim());
        gguf.putF32(arch + ".rope.freq_base", rope.freqBase());
        gguf.putU32(arch + ".vocab_size", config.vocabSize());
        for (Map.Entry<String, Object> e : rope.scalingKeys().entrySet()) {
            String key = arch + ".rope.scaling." + e.getKey();
            if (e.getValue() instanceof String text) {
                gguf.putString(key, text);
            } else if (e.getValue() instanceof Integer count) {
                gguf.putU32(key, count);
            } else {
                gguf.putF32(key, ((Number) e.getValue()).doubleValue());
            }
        }
    }

    /** llama.cpp's tensor name for an HF one. */
    static String ggufName(String hf, Path file) {
        switch (hf) {
            case "model.embed_tokens.weight":
                return "token_embd.weight";
            case "model.norm.weight":
                return "output_norm.weight";
            case "lm_head.weight":
                return "output.weight";
            default:
                break;
        }
        Matcher m = LAYER.matcher(hf);
        String suffix = m.matches() ? LAYER_NAMES.get(m.group(2)) : null;
        if (suffix == null) {
            throw new LongctxException(file + ": tensor " + hf + " has no llama.cpp name");
        }
        return "blk." + m.group(1) + "." + suffix;
    }

    /**
     * Rows of a q/k projection (or its bias) reordered per head from HF's layout, where pair i of a head is rows
     * (i, i + d/2), to llama.cpp's, where it is rows (2i, 2i + 1).
     */
    static RowSlices.Source interleavedRows(TensorSource tensors, String name, long[] shape, int heads) {
        int rows = (int) shape[0];
        int rowElements = (int) RowSlices.rowElements(shape);
        int headRows = rows / heads;
        int half = headRows / 2;
        return (from, to) -> {
            long firstRow = from / headRows * headRows;                    // whole heads: rows never leave their head
            float[] source = tensors.rows(name, firstRow, Math.min(rows, (to + headRows - 1) / headRows * headRows));
            float[] out = new float[(int) ((to - from) * rowElements)];
            for (long row = from; row < to; row++) {
                int head = (int) ((row - firstRow) / headRows);
                int within = (int) (row % headRows);
                long sourceRow = (long) head * headRows + (within % 2) * half + within / 2;
                System.arraycopy(source, (int) (sourceRow * rowElements), out, (int) ((row - from) * rowElements),
                        rowElements);
            }
            return out;
        };
    }
}
