package io.longctx.train;

/**
 * Learning rate by optimizer step (1-based): linear warm-up from 0 to the peak over the warm-up steps, then constant,
 * linear or cosine decay to peak x minLrRatio at the last step, or warmup-stable-decay: the peak until the last
 * {@code decaySteps} steps, which decay linearly to the floor.
 */
public record LrSchedule(double peak, int warmupSteps, int totalSteps, TrainConfig.Schedule shape,
        double minLrRatio, int decaySteps) {

    public static LrSchedule of(TrainConfig train) {
        return new LrSchedule(train.lr(), train.warmupSteps(), train.steps(), train.schedule(), train.minLrRatio(),
                train.decaySteps());
    }

    public double at(int step) {
        if (step <= warmupSteps) {
            return peak * step / Math.max(1, warmupSteps);
        }
        double floor = peak * minLrRatio;
        int decayStart = shape == TrainConfig.Schedule.WSD ? totalSteps - decaySteps : warmupSteps;
        int decayLength = totalSteps - decayStart;
        double progress = decayLength <= 0 ? 1.0
                : Math.max(0.0, Math.min(1.0, (double) (step - decayStart) / decayLength));
        return switch (shape) {
            case CONSTANT -> peak;
            case LINEAR, WSD -> peak - (peak - floor) * progress;
            case COSINE -> floor + (peak - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
        };
    }
}
