package io.longctx.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import io.longctx.Hashing;
import io.longctx.engine.Tensors;
import io.longctx.safetensors.DType;
import io.longctx.safetensors.RowSlices;
import io.longctx.safetensors.SafetensorsFile;
import io.longctx.safetensors.SafetensorsWriter;
import io.longctx.testing.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tensors move in row slices: reading and writing with slices far smaller than a tensor gives exactly what whole
 * tensors give, and a Qwen2-7B-shaped embedding (152064 x 3584, 2.18 GB in fp32, beyond any one Java buffer)
 * loads.
 */
class RowSlicedLoadingTest {
    @TempDir
    Path tmp;

    @Test
    void slicedLoad_equalsWholeLoad() throws Exception {
        Path dir = TinyModels.write(tmp.resolve("model"), TinyModels.llamaConfig(), 5);
        ModelConfig config = ModelConfig.load(dir);
        try (NDManager manager = NDManager.newBaseManager();
                LlamaWeights whole = LlamaWeights.load(dir, config, manager);
                LlamaWeights sliced = LlamaWeights.load(dir, config, manager, 3 * 4 * 16 + 4)) {
            for (Map.Entry<String, NDArray> e : whole.tensors().entrySet()) {
                assertEquals(e.getValue().getShape(), sliced.get(e.getKey()).getShape(), e.getKey());
                assertArrayEquals(e.getValue().toFloatArray(), sliced.get(e.getKey()).toFloatArray(), e.getKey());
            }
        }
    }

    @Test
    void slicedWrite_givesTheSameBytes() throws Exception {
        long[] shape = {37, 5, 3};
        float[] values = new float[37 * 15];
        SplittableRandom random = new SplittableRandom(3);
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
            Path whole = tmp.resolve("whole-" + dtype + ".safetensors");
            Path sliced = tmp.resolve("sliced-" + dtype + ".safetensors");
            new SafetensorsWriter(dtype).add("t", values, shape).write(whole);
            new SafetensorsWriter(dtype, 2 * 15 * 4).add("t", values, shape).write(sliced);
            assertEquals(Hashing.sha256(whole), Hashing.sha256(sliced), dtype.toString());
        }
    }

    @Test
    void qwen2SizedEmbedding_aboveTwoGiB_loads() throws Exception {
        long rows = 152064;
        long cols = 3584;
        assumeTrue(Files.getFileStore(tmp).getUsableSpace() > (4L << 30),
                "skipped: needs 4 GiB of free disk for a 1.1 GB bf16 tensor");
        Path file = tmp.resolve("embed.safetensors");
        // bf16 on disk as released checkpoints are; generated row by row, never whole in Java
        new SafetensorsWriter(DType.BF16).addRows("model.embed_tokens.weight", new long[] {rows, cols},
                (from, to) -> rowsOf(from, to, cols)).write(file);
        try (NDManager manager = NDManager.newBaseManager();
                SafetensorsFile st = SafetensorsFile.open(file)) {
            NDArray embed = Tensors.fromSafetensors(manager, st, "model.embed_tokens.weight", RowSlices.DEFAULT_BYTES,
                    (from, to, data) -> { });
            assertEquals(rows * cols * 4, embed.getShape().size() * 4);
            assertEquals(2_179_989_504L, rows * cols * 4, "above 2 GiB in fp32");
            for (long row : new long[] {0, 74_898, rows - 1}) {
                float[] expected = bf16(rowsOf(row, row + 1, cols));
                float[] actual = embed.get(new NDIndex("{}:{}", row, row + 1)).toFloatArray();
                assertArrayEquals(expected, actual, "row " + row);
            }
        }
    }

    /** Deterministic values of rows [from, to): a function of the row and column. */
    private static float[] rowsOf(long from, long to, long cols) {
        float[] out = new float[(int) ((to - from) * cols)];
        for (long r = from; r < to; r++) {
            for (long c = 0; c < cols; c++) {
                out[(int) ((r - from) * cols + c)] = ((r * 31 + c * 7) % 1009) * 0.001f - 0.5f;
            }
        }
        return out;
    }

    private static float[] bf16(float[] values) {
        float[] out = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = io.longctx.safetensors.Float16.bf16ToFloat(io.longctx.safetensors.Float16.floatToBf16(values[i]));
        }
        return out;
    }
}
