package io.longctx.train;

import io.longctx.data.DataConfig;
import io.longctx.data.source.SourceConfig;
import io.longctx.rope.RopeScaling;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.Yaml;

/** The recipe with every default filled in, as YAML: saved with each run and checkpoint. */
public final class ResolvedRecipe {
    private ResolvedRecipe() {
    }

    public static String yaml(Recipe recipe) {
        DumperOptions options = new DumperOptions();
        options.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
        options.setSplitLines(false);
        return "# resolved from " + recipe.file() + " (defaults filled in)\n" + new Yaml(options).dump(toMap(recipe));
    }

    static Map<String, Object> toMap(Recipe r) {
        Map<String, Object> root = new LinkedHashMap<>();
        Map<String, Object> model = new LinkedHashMap<>();
        if (r.model().isRandom()) {
            model.put("init", "random");
            model.put("init_std", r.model().initStd());
            model.put("architecture", r.model().architecture());
        } else {
            model.put("path", r.model().path().toString());
        }
        root.put("model", model);
        root.put("rope_scaling", rope(r.ropeScaling()));
        root.put("data", data(r.data()));
        TrainConfig t = r.train();
        Map<String, Object> train = new LinkedHashMap<>();
        train.put("steps", t.steps());
        train.put("micro_batch", t.microBatch());
        train.put("grad_accum", t.gradAccum());
        train.put("lr", t.lr());
        train.put("warmup_steps", t.warmupSteps());
        train.put("schedule", t.schedule().name().toLowerCase(Locale.ROOT));
        train.put("min_lr_ratio", t.minLrRatio());
        train.put("betas", List.of(t.beta1(), t.beta2()));
        train.put("eps", t.eps());
        train.put("weight_decay", t.weightDecay());
        train.put("clip_norm", t.clipNorm());
        train.put("seed", t.seed());
        train.put("trainable", t.trainable());
        train.put("max_bad_steps", t.maxBadSteps());
        root.put("train", train);
        RunConfig run = r.run();
        root.put("activation_checkpointing", run.checkpointLayers() == 0 ? "off"
                : run.checkpointLayers() == 1 ? "every_layer" : Map.of("every", run.checkpointLayers()));
        root.put("device", run.device().name().toLowerCase(Locale.ROOT));
        root.put("attention", run.attention());
        Map<String, Object> output = new LinkedHashMap<>();
        output.put("dir", run.outputDir().toString());
        output.put("checkpoint_every", run.checkpointEvery());
        output.put("keep_last", run.keepLast());
        root.put("output", output);
        Map<String, Object> eval = new LinkedHashMap<>();
        eval.put("every", run.evalEvery());
        eval.put("lengths", run.evalLengths());
        eval.put("batches", run.evalBatches());
        root.put("eval", eval);
        return root;
    }

    private static Object rope(RopeScaling scaling) {
        if (scaling == null) {
            return null;
        }
        Map<String, Object> hf = scaling.toHfRopeScaling();
        if (hf != null) {
            return hf;
        }
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("rope_type", scaling.ropeType());
        map.put("factor", scaling.factor());
        return map;
    }

    private static Map<String, Object> data(DataConfig d) {
        Map<String, Object> data = new LinkedHashMap<>();
        List<Map<String, Object>> sources = new ArrayList<>();
        for (SourceConfig s : d.sources()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("type", s.type().name().toLowerCase(Locale.ROOT));
            m.put("path", s.path().toString());
            m.put("glob", s.glob());
            if (s.type() == SourceConfig.Type.JSONL) {
                m.put("text_field", s.textField());
                m.put("id_field", s.idField());
            }
            if (s.type() == SourceConfig.Type.CSV || s.type() == SourceConfig.Type.TSV) {
                m.put("text_column", s.textColumn());
                m.put("header", s.header());
            }
            m.put("on_error", s.onError().name().toLowerCase(Locale.ROOT));
            sources.add(m);
        }
        data.put("sources", sources);
        Map<String, Object> tokenizer = new LinkedHashMap<>();
        tokenizer.put("path", d.tokenizer().isByteLevel() ? "byte" : d.tokenizer().path().toString());
        tokenizer.put("bos_id", d.tokenizer().bosId());
        tokenizer.put("eos_id", d.tokenizer().eosId());
        tokenizer.put("pad_id", d.tokenizer().padId());
        tokenizer.put("add_bos", d.tokenizer().addBos());
        tokenizer.put("add_eos", d.tokenizer().addEos());
        data.put("tokenizer", tokenizer);
        Map<String, Object> packing = d.packing().toMap();
        packing.put("separator", java.util.Arrays.stream(d.packing().separator()).boxed().toList());
        data.put("packing", packing);
        data.put("validation_fraction", d.validationFraction());
        data.put("seed", d.seed());
        data.put("store", d.store().toString());
        return data;
    }
}
