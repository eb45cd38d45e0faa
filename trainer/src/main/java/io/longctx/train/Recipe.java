package io.longctx.train;

import io.longctx.data.DataConfig;
import io.longctx.lora.LoraConfig;
import io.longctx.model.ModelConfig;
import io.longctx.recipe.RecipeNode;
import io.longctx.rope.LongRopeScaling;
import io.longctx.rope.RopeScaling;
import io.longctx.rope.RopeScalingParser;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A whole training recipe, parsed strictly from YAML into immutable records, once: every unknown key, duplicate,
 * wrong type, missing field and invalid value is reported together, with its key path and line, and every rule that
 * spans sections is checked, before any work starts. Each section writes itself back ({@link #toMap()}), which is
 * the resolved recipe saved with the run and each checkpoint and what a resumed run is compared against.
 *
 * @param ropeScaling the scaling the run trains with, or null to keep the model's own
 * @param lora low-rank adapters over a frozen base, or null for full fine-tuning of {@code train.trainable}
 */
public record Recipe(Path file, ModelSource model, RopeScaling ropeScaling, DataConfig data, TrainConfig train,
        RunConfig run, OutputConfig output, EvalConfig eval, LoraConfig lora) {

    /** Tokens per step the batch loader may hold in host memory at once: two steps ahead plus the current one. */
    private static final int STEPS_IN_FLIGHT = 3;
    /** Host bytes per token of a prepared batch (token ids, positions, document ids, loss mask). */
    private static final int HOST_BYTES_PER_TOKEN = 16;

    public static Recipe load(Path file, List<String> overrides) {
        RecipeNode root = RecipeNode.load(file, overrides);
        Path baseDir = file.toAbsolutePath().getParent();
        return parse(root, file, baseDir);
    }

    public static Recipe parse(RecipeNode root, Path file, Path baseDir) {
        String name = file.getFileName().toString().replaceFirst("\\.ya?ml$", "");
        Path defaultOutput = Path.of("checkpoints", name);
        ModelSource model = ModelSource.parse(root.get("model"), baseDir);
        ModelConfig base = model == null ? null : model.config();
        RecipeNode ropeNode = root.get("rope_scaling");
        RopeScaling scaling = ropeNode.isMissing() ? null
                : new RopeScalingParser(base == null ? 1 : base.maxPositions(), null).parse(ropeNode);
        DataConfig data = DataConfig.parse(root.get("data"), baseDir, model == null ? null : model.tokenizerDir(),
                defaultOutput.resolve("store"));
        TrainConfig train = TrainConfig.parse(root.get("train"));
        RunConfig run = RunConfig.parse(root);
        OutputConfig output = OutputConfig.parse(root.get("output"), baseDir, defaultOutput);
        EvalConfig eval = EvalConfig.parse(root.get("eval"));
        LoraConfig lora = LoraConfig.parse(root.get("lora"));
        root.finish();
        if (lora != null) {
            root.get("train").require("trainable", root.get("train").get("trainable").isMissing(), "is set by the "
                    + "lora section (adapters plus lora.extra_trainable); remove train.trainable or the lora section");
            root.require("lora", model == null || !model.isRandom(), "adapts a pretrained model: set model.path");
        }
        boolean ropeOk = ropeNode.isMissing() || scaling != null;
        if (base != null && ropeOk) {
            checkScaling(root, base, scaling);
            checkExports(root, base, scaling, output);
            checkLengths(root, base, scaling, data);
            checkEvalLengths(root, eval, data);
            checkPasskeyLengths(root, eval, data, base);
            checkBatchMemory(root, train, data);
            root.get("activation_checkpointing").require("keep_last", run.keepLast() < base.numLayers(),
                    "must be below the model's " + base.numLayers() + " layers, got " + run.keepLast());
        }
        root.problems().throwIfAny();
        return new Recipe(file, model, scaling, data, train, run, output, eval, lora);
    }

    /** The scaling must suit the model's rotary pairs, and every checkpoint writes it into an HF config.json. */
    private static void checkScaling(RecipeNode root, ModelConfig base, RopeScaling scaling) {
        RopeScaling effective = scaling == null ? base.ropeScaling() : scaling;
        RecipeNode where = scaling == null ? root.get("model") : root.get("rope_scaling");
        if (scaling instanceof LongRopeScaling longRope) {
            String problem = longRope.pairsProblem(base.rotaryDim() / 2);
            if (problem != null) {
                where.get("short_factor").problem(problem);
            }
        }
        if (effective.hfForm(base.ropeGeometry()) instanceof RopeScaling.HfForm.NotExportable no) {
            where.get("rope_type").problem(no.reason() + " (every checkpoint carries an HF config.json)");
        }
    }

    /** Each requested export format must carry the trained scaling: decided now, not after training. */
    private static void checkExports(RecipeNode root, ModelConfig base, RopeScaling scaling, OutputConfig output) {
        if (output.export().contains(OutputConfig.ExportFormat.GGUF)) {
            ModelConfig trained = scaling == null ? base : base.withRopeScaling(scaling);
            String problem = io.longctx.gguf.GgufExport.problem(trained);
            if (problem != null) {
                root.get("output").get("export").problem(problem);
            }
        }
    }

    /** Context extension must train beyond the original context, and within what the scaling covers. */
    private static void checkLengths(RecipeNode root, ModelConfig architecture, RopeScaling scaling,
            DataConfig data) {
        RecipeNode packing = root.get("data").get("packing");
        if (packing.hasProblem("seq_len")) {
            return;
        }
        int seqLen = data.packing().seqLen();
        int original = scaling == null ? architecture.maxPositions()
                : scaling.originalContext(architecture.maxPositions());
        if (scaling != null && scaling.factor() > 1) {
            packing.require("seq_len", seqLen > original, "must be above the original context " + original
                    + " when rope_scaling extends it (got " + seqLen + ")");
            double covered = scaling.factor() * original;
            packing.require("seq_len", seqLen <= covered, "exceeds rope_scaling.factor x original context = "
                    + (long) covered + " (got " + seqLen + ")");
        } else {
            packing.require("seq_len", seqLen <= original, "is above the model's context " + original
                    + "; add rope_scaling to extend it (got " + seqLen + ")");
        }
    }

    private static void checkEvalLengths(RecipeNode root, EvalConfig eval, DataConfig data) {
        for (int length : eval.lengths()) {
            root.get("eval").require("lengths", length <= data.packing().seqLen(), "each length must be at most "
                    + "data.packing.seq_len = " + data.packing().seqLen() + " (got " + length + ")");
        }
    }

    /** Every passkey prompt length must hold the prompt without filler, in the run's tokenizer: known now. */
    private static void checkPasskeyLengths(RecipeNode root, EvalConfig eval, DataConfig data, ModelConfig base) {
        if (eval.passkey() == null || data.tokenizer() == null || root.get("data").hasProblem("tokenizer")) {
            return;
        }
        int shortest;
        try (io.longctx.data.tokenize.TextTokenizer tokenizer = data.tokenizer().isByteLevel()
                ? io.longctx.data.tokenize.ByteLevelTokenizer.load()
                : io.longctx.data.tokenize.TextTokenizer.load(data.tokenizer().path())) {
            shortest = io.longctx.eval.Passkey.minimumLength(tokenizer, base.bosTokenId(), eval.passkey().task());
        }
        for (int length : eval.passkey().lengths()) {
            root.get("eval").get("passkey").require("lengths", length >= shortest, "each must hold the passkey "
                    + "prompt without filler (" + shortest + " tokens with this tokenizer), got " + length);
        }
    }

    /** What one step asks of host memory before any tensor exists: the batch loader's prepared sequences. */
    private static void checkBatchMemory(RecipeNode root, TrainConfig train, DataConfig data) {
        RecipeNode node = root.get("train");
        if (node.hasProblem("micro_batch") || node.hasProblem("grad_accum")) {
            return;
        }
        long microTokens = (long) train.microBatch() * data.packing().seqLen();
        node.require("micro_batch", microTokens <= Integer.MAX_VALUE, "x data.packing.seq_len = " + microTokens
                + " tokens in one forward pass, more than a tensor index can address (2^31)");
        long hostBytes = microTokens * train.gradAccum() * STEPS_IN_FLIGHT * HOST_BYTES_PER_TOKEN;
        long heap = Runtime.getRuntime().maxMemory();
        node.require("micro_batch", hostBytes <= heap / 2, String.format(java.util.Locale.ROOT,
                "x grad_accum x seq_len = %,d tokens per step: the batch loader would hold %.1f GiB of prepared "
                + "sequences, more than half the JVM heap (%.1f GiB; raise it with LONGCTX_JAVA_OPTS=-Xmx...)",
                microTokens * train.gradAccum(), hostBytes / 1073741824.0, heap / 1073741824.0));
    }

    /** The architecture the run trains: the model's, with the recipe's scaling when it gives one. */
    public ModelConfig architecture() {
        ModelConfig config = model.config();
        return ropeScaling == null ? config : config.withRopeScaling(ropeScaling);
    }

    /** The resolved recipe: every section with its defaults filled in, in file order. */
    public Map<String, Object> toMap() {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("model", model.toMap());
        root.put("rope_scaling", ropeScaling == null ? null : ropeScaling.toMap());
        root.put("data", data.toMap());
        root.put("train", train.toMap());
        root.putAll(run.toMap());
        root.put("output", output.toMap());
        root.put("eval", eval.toMap());
        if (lora != null) {
            root.put("lora", lora.toMap());
        }
        return root;
    }
}
