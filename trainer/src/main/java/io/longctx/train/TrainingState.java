package io.longctx.train;

import com.fasterxml.jackson.databind.JsonNode;
import io.longctx.data.sample.SequenceSampler;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Everything besides weights, moments and a partial gradient that a resumed run needs to continue exactly: the step,
 * the data position and the counters. Training draws no random numbers after initialisation (the data order is the
 * sampler's, which is seeded), so the sampler cursor is the whole random state.
 *
 * @param step optimizer steps completed
 * @param sampler the data position where step + 1 starts
 * @param tokensSeen loss tokens consumed by completed steps
 * @param badSteps consecutive skipped (non-finite) steps at the time of the checkpoint
 * @param microBatchesDone micro-batches of step + 1 already accumulated (0 at a step boundary); their gradient sum
 *     is in the checkpoint's gradients.safetensors
 * @param partialNll summed NLL of those micro-batches
 */
public record TrainingState(int step, SequenceSampler.Cursor sampler, long tokensSeen, int badSteps,
        double lastLoss, int microBatchesDone, double partialNll) {

    public static TrainingState start(long seed) {
        return new TrainingState(0, new SequenceSampler.Cursor(seed, 0, 0), 0, 0, Double.NaN, 0, 0);
    }

    public boolean insideStep() {
        return microBatchesDone > 0;
    }

    /** This state, paused after {@code done} micro-batches of the next step. */
    public TrainingState paused(int done, double nll) {
        return new TrainingState(step, sampler, tokensSeen, badSteps, lastLoss, done, nll);
    }

    public Map<String, Object> toMap() {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("step", step);
        Map<String, Object> cursor = new LinkedHashMap<>();
        cursor.put("seed", sampler.seed());
        cursor.put("epoch", sampler.epoch());
        cursor.put("position", sampler.position());
        map.put("sampler", cursor);
        map.put("rng", Map.of("kind", "none: training draws no random numbers; data order is the sampler's"));
        map.put("tokens_seen", tokensSeen);
        map.put("bad_steps", badSteps);
        map.put("last_loss", Double.isFinite(lastLoss) ? lastLoss : null);
        map.put("micro_batches_done", microBatchesDone);
        map.put("partial_nll", partialNll);
        return map;
    }

    public static TrainingState fromJson(JsonNode node) {
        JsonNode cursor = node.path("sampler");
        return new TrainingState(node.path("step").asInt(), new SequenceSampler.Cursor(cursor.path("seed").asLong(),
                cursor.path("epoch").asLong(), cursor.path("position").asLong()), node.path("tokens_seen").asLong(),
                node.path("bad_steps").asInt(), node.path("last_loss").asDouble(Double.NaN),
                node.path("micro_batches_done").asInt(0), node.path("partial_nll").asDouble(0));
    }
}
