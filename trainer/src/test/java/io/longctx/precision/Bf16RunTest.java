package io.longctx.precision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import io.longctx.engine.SdpaAttention;
import io.longctx.engine.Tensors;
import io.longctx.model.LlamaModel;
import io.longctx.model.LlamaWeights;
import io.longctx.model.ModelConfig;
import io.longctx.safetensors.DType;
import io.longctx.safetensors.SafetensorsFile;
import io.longctx.testing.CliRun;
import io.longctx.testing.TinyRuns;
import io.longctx.train.Checkpoints;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A bf16 run with host offload end to end: train, checkpoint (fp32 masters), resume, export in bf16, reload. */
class Bf16RunTest {
    @TempDir
    Path tmp;

    @Test
    void bf16Run_checkpointsFp32Masters_resumes_andExportsWhatItTrained() throws Exception {
        Path recipe = TinyRuns.writeRecipe(tmp, 2, "precision: bf16\noptimizer: {offload: host}");
        CliRun first = CliRun.of("train", recipe.toString());
        assertEquals(0, first.exitCode(), first.err());
        assertTrue(first.err().contains("precision bf16; optimizer state on host"), first.err());
        CliRun again = CliRun.of("train", recipe.toString());
        assertEquals(0, again.exitCode(), again.err());
        assertTrue(again.err().contains("nothing to do"), "resumed at the last checkpoint: " + again.err());
        Path checkpoint = new Checkpoints(tmp.resolve("run")).list().get(0);
        try (SafetensorsFile weights = SafetensorsFile.open(checkpoint.resolve(Checkpoints.MODEL))) {
            assertEquals(DType.F32, weights.entry("model.layers.0.mlp.up_proj.weight").dtype(), "fp32 masters");
        }
        Path out = tmp.resolve("exported");
        CliRun export = CliRun.of("export", tmp.resolve("run").toString(), out.toString(), "--dtype", "bf16");
        assertEquals(0, export.exitCode(), export.err());
        int[] ids = {1, 40, 90, 100, 33, 70, 71, 72};
        try (NDManager manager = NDManager.newBaseManager(); SdpaAttention sdpa = SdpaAttention.create()) {
            ModelConfig config = ModelConfig.load(out);
            LlamaWeights trained = LlamaWeights.load(checkpoint, config, manager);
            LlamaWeights reloaded = LlamaWeights.load(out, config, manager);
            float[] expected = new LlamaModel(trained, sdpa).logits(manager, Tensors.tokenRow(manager, ids, 0,
                    ids.length), null).toFloatArray();
            float[] actual = new LlamaModel(reloaded, sdpa).logits(manager, Tensors.tokenRow(manager, ids, 0,
                    ids.length), null).toFloatArray();
            // bf16 weights: 8 significant bits, through two layers
            assertArrayEquals(expected, actual, 0.05f);
        }
    }
}
