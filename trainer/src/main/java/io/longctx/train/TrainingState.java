package io.longctx.train;

import com.fasterxml.jackson.databind.JsonNode;
import io.longctx.data.sample.SequenceSampler;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Everything besides weights and moments that a resumed run needs to continue exactly: the step, the data position
 * and the counters. Training draws no random numbers after initialisation (the data order is the sampler's, which is
 * seeded), so the sampler cursor is the whole random state.
 *
 * @param step optimizer steps completed
 * @param tokensSeen loss tokens consumed so far
 * @param badSteps consecutive skipped (non-finite) steps at the time of the checkpoint
 */
public record TrainingState(int step, SequenceSampler.Cursor sampler, long tokensSeen, int badSteps,
        double lastLoss) {

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
        return map;
    }

    public static TrainingState fromJson(JsonNode node) {
        JsonNode cursor = node.path("sampler");
        return new TrainingState(node.path("step").asInt(), new SequenceSampler.Cursor(cursor.path("seed").asLong(),
                cursor.path("epoch").asLong(), cursor.path("position").asLong()), node.path("tokens_seen").asLong(),
                node.path("bad_steps").asInt(), node.path("last_loss").asDouble(Double.NaN));
    }
}
