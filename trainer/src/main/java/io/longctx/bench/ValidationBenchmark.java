package io.longctx.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import io.longctx.data.pack.PackedSequence;
import io.longctx.engine.SdpaAttention;
import io.longctx.model.ChunkedNll;
import io.longctx.model.LlamaModel;
import io.longctx.model.LlamaWeights;
import io.longctx.model.ModelConfig;
import io.longctx.train.Memory;
import io.longctx.train.Parameters;
import io.longctx.train.StepRunner;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * The validation loss of one long sequence through the chunked output head, with the peak resident memory it took
 * next to what whole (length x vocabulary) logits and their log-softmax would have needed.
 */
public final class ValidationBenchmark {
    private ValidationBenchmark() {
    }

    public static Map<String, Object> run(String configName, int length, Device device) {
        ModelConfig config = BenchModels.config(configName, length);
        long vocabBytes = (long) config.vocabSize() * Float.BYTES;
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("config", configName);
        result.put("length", length);
        result.put("chunk_positions", ChunkedNll.CHUNK);
        result.put("chunk_logits_mib", ChunkedNll.CHUNK * vocabBytes / 1048576.0);
        result.put("full_logits_mib", length * vocabBytes / 1048576.0);
        result.put("full_logits_and_log_softmax_mib", 2 * length * vocabBytes / 1048576.0);
        try (NDManager manager = NDManager.newBaseManager(device);
                SdpaAttention attention = SdpaAttention.create()) {
            LlamaWeights weights = Parameters.randomInit(config, 0.02, 1, manager);
            Random random = new Random(7);
            int[] tokens = new int[length];
            for (int i = 0; i < length; i++) {
                tokens[i] = random.nextInt(config.vocabSize());
            }
            StepRunner runner = new StepRunner(new LlamaModel(weights, attention), 0, false);
            long before = Memory.residentMiB();
            long start = System.nanoTime();
            double nll = runner.loss(manager, java.util.List.of(new PackedSequence(tokens, length, new int[] {0})));
            result.put("seconds", (System.nanoTime() - start) / 1e9);
            result.put("mean_nll", nll / (length - 1));
            result.put("rss_before_mib", before);
            result.put("peak_rss_mib", Memory.peakResidentMiB());
            result.put("peak_above_loaded_model_mib", Memory.peakResidentMiB() - before);
        }
        return result;
    }
}
