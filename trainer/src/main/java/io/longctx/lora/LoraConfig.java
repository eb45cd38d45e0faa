package io.longctx.lora;

import io.longctx.model.ModelConfig;
import io.longctx.recipe.RecipeNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The recipe's {@code lora} section: low-rank adapters W + (alpha / rank) B A on the named projections of every
 * layer, A (rank, in) and B (out, rank), B starting at zero so training starts from the base model exactly; plus
 * the base tensors that train in full beside them. The default extra_trainable (the token embedding and every
 * RMSNorm weight) is what LongLoRA found context extension needs.
 */
public record LoraConfig(int rank, double alpha, List<String> targets, List<String> extraTrainable) {
    public static final List<String> DEFAULT_TARGETS = List.of("q_proj", "k_proj", "v_proj", "o_proj");
    public static final List<String> DEFAULT_EXTRA = List.of("model.embed_tokens.weight", "*norm*");
    /** Each projection a target may name, with the block it lives in. */
    private static final Map<String, String> MODULES = Map.of("q_proj", "self_attn", "k_proj", "self_attn",
            "v_proj", "self_attn", "o_proj", "self_attn", "gate_proj", "mlp", "up_proj", "mlp", "down_proj", "mlp");

    public LoraConfig {
        targets = List.copyOf(targets);
        extraTrainable = List.copyOf(extraTrainable);
    }

    /** The section, or null when the recipe has none (full fine-tuning). */
    public static LoraConfig parse(RecipeNode node) {
        if (node.isMissing()) {
            return null;
        }
        int rank = node.integer("rank", 8);
        double alpha = node.number("alpha", 16);
        List<String> targets = strings(node, "targets", DEFAULT_TARGETS);
        List<String> extra = strings(node, "extra_trainable", DEFAULT_EXTRA);
        node.require("rank", rank >= 1, "must be >= 1, got " + rank);
        node.require("alpha", alpha > 0, "must be > 0, got " + alpha);
        for (String target : targets) {
            node.require("targets", MODULES.containsKey(target), "'" + target + "' is not a projection; choose "
                    + "from " + new java.util.TreeSet<>(MODULES.keySet()));
        }
        node.require("targets", !targets.isEmpty(), "must name at least one projection");
        return new LoraConfig(rank, alpha, targets, extra);
    }

    private static List<String> strings(RecipeNode node, String key, List<String> defaults) {
        RecipeNode list = node.get(key);
        if (list.isMissing()) {
            return defaults;
        }
        List<String> out = new ArrayList<>();
        for (RecipeNode item : list.elements()) {
            if (item.text() != null) {
                out.add(item.text());
            }
        }
        return out;
    }

    /** alpha / rank: the factor on B A. */
    public double scale() {
        return alpha / rank;
    }

    /** The HF module path of a target in a layer, e.g. model.layers.3.self_attn.q_proj. */
    public static String module(int layer, String target) {
        return "model.layers." + layer + "." + MODULES.get(target) + "." + target;
    }

    /** Every adapter tensor with its shape, layer by layer, A before B. */
    public Map<String, long[]> adapterShapes(ModelConfig config) {
        Map<String, long[]> base = config.expectedTensors();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (int layer = 0; layer < config.numLayers(); layer++) {
            for (String target : targets) {
                String module = module(layer, target);
                long[] w = base.get(module + ".weight");              // (out, in)
                shapes.put(module + ".lora_A.weight", new long[] {rank, w[1]});
                shapes.put(module + ".lora_B.weight", new long[] {w[0], rank});
            }
        }
        return shapes;
    }

    /** Adapter parameters in all. */
    public long adapterParameters(ModelConfig config) {
        long n = 0;
        for (long[] shape : adapterShapes(config).values()) {
            n += shape[0] * shape[1];
        }
        return n;
    }

    public Map<String, Object> toMap() {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("rank", rank);
        map.put("alpha", alpha);
        map.put("targets", targets);
        map.put("extra_trainable", extraTrainable);
        return map;
    }
}
