package io.longctx.train;

import io.longctx.recipe.RecipeNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The {@code train} section: optimisation hyper-parameters.
 *
 * @param steps optimizer steps
 * @param microBatch sequences per forward/backward pass
 * @param gradAccum micro-batches accumulated per optimizer step
 * @param warmupSteps steps of linear warm-up from 0 to lr
 * @param minLrRatio the schedule decays to lr x this ratio
 * @param decaySteps for {@code wsd}: the last steps, over which lr decays linearly to the floor; 0 otherwise
 * @param clipNorm global gradient-norm clipping threshold; 0 turns clipping off
 * @param trainable parameter-name patterns (globs over HF names) that train; ["*"] for all
 * @param maxBadSteps consecutive NaN/inf steps tolerated before the run stops
 */
public record TrainConfig(
        int steps, int microBatch, int gradAccum, double lr, int warmupSteps, Schedule schedule, double minLrRatio,
        int decaySteps, double beta1, double beta2, double eps, double weightDecay, double clipNorm, long seed, List<String> trainable,
        int maxBadSteps) {

    /** After warm-up: linear or cosine decay over all remaining steps, constant, or warmup-stable-decay. */
    public enum Schedule {
        LINEAR, COSINE, CONSTANT, WSD
    }

    public TrainConfig {
        trainable = List.copyOf(trainable);
    }

    /** Sequences per optimizer step. */
    public int sequencesPerStep() {
        return microBatch * gradAccum;
    }

    public static TrainConfig parse(RecipeNode node) {
        int steps = node.requiredInteger("steps");
        int micro = node.integer("micro_batch", 1);
        int accum = node.integer("grad_accum", 1);
        double lr = node.number("lr", 2e-5);
        int warmup = node.integer("warmup_steps", 0);
        Schedule schedule = node.enumValue("schedule", Schedule.class, Schedule.LINEAR);
        double minLr = node.number("min_lr_ratio", 0.0);
        boolean wsd = schedule == Schedule.WSD;
        int decaySteps = wsd ? node.requiredInteger("decay_steps") : 0;
        if (!wsd && !node.get("decay_steps").isMissing()) {
            node.get("decay_steps").problem("is only read with schedule: wsd (the schedule is " 
                    + schedule.name().toLowerCase(Locale.ROOT) + ")");
        }
        double beta1 = 0.9;
        double beta2 = 0.95;
        RecipeNode betas = node.get("betas");
        if (!betas.isMissing()) {
            List<RecipeNode> items = betas.elements();
            if (items.size() != 2) {
                betas.problem("must be a list of two numbers, e.g. [0.9, 0.95]");
            } else {
                beta1 = parseBeta(items.get(0));
                beta2 = parseBeta(items.get(1));
            }
        }
        double eps = node.number("eps", 1e-8);
        double decay = node.number("weight_decay", 0.0);
        double clip = node.number("clip_norm", 1.0);
        long seed = node.longValue("seed", 1234);
        List<String> trainable = new ArrayList<>();
        RecipeNode trainableNode = node.get("trainable");
        if (trainableNode.isMissing()) {
            trainable.add("*");
        } else if (trainableNode.isScalar()) {
            String text = trainableNode.text();
            trainable.add(text.equals("all") ? "*" : text);
        } else {
            for (RecipeNode item : trainableNode.elements()) {
                String text = item.text();
                if (text != null) {
                    trainable.add(text);
                }
            }
        }
        int maxBad = node.integer("max_bad_steps", 3);
        node.require("steps", steps > 0, "must be positive, got " + steps);
        node.require("micro_batch", micro > 0, "must be positive, got " + micro);
        node.require("grad_accum", accum > 0, "must be positive, got " + accum);
        node.require("lr", lr > 0, "must be > 0, got " + lr);
        node.require("warmup_steps", warmup >= 0 && (node.hasProblem("steps") || warmup <= Math.max(steps, 0)),
                "must be in [0, steps], got " + warmup);
        node.require("min_lr_ratio", minLr >= 0 && minLr <= 1, "must be in [0, 1], got " + minLr);
        if (wsd) {
            node.require("decay_steps", decaySteps >= 1 && (node.hasProblem("steps") || node.hasProblem("warmup_steps")
                    || decaySteps <= steps - warmup), "must be in [1, steps - warmup_steps], got " + decaySteps);
        }
        node.require("eps", eps > 0, "must be > 0, got " + eps);
        node.require("weight_decay", decay >= 0, "must be >= 0, got " + decay);
        node.require("clip_norm", clip >= 0, "must be >= 0 (0 turns clipping off), got " + clip);
        node.require("max_bad_steps", maxBad >= 1, "must be >= 1, got " + maxBad);
        node.require("trainable", !trainable.isEmpty(), "must name at least one parameter pattern");
        return new TrainConfig(steps, micro, accum, lr, warmup, schedule, minLr, decaySteps, beta1, beta2, eps, decay, clip, seed,
                trainable, maxBad);
    }

    /** The recipe form of the section, every default filled in. */
    public Map<String, Object> toMap() {
        Map<String, Object> train = new LinkedHashMap<>();
        train.put("steps", steps);
        train.put("micro_batch", microBatch);
        train.put("grad_accum", gradAccum);
        train.put("lr", lr);
        train.put("warmup_steps", warmupSteps);
        train.put("schedule", schedule.name().toLowerCase(Locale.ROOT));
        train.put("min_lr_ratio", minLrRatio);
        if (schedule == Schedule.WSD) {
            train.put("decay_steps", decaySteps);
        }
        train.put("betas", List.of(beta1, beta2));
        train.put("eps", eps);
        train.put("weight_decay", weightDecay);
        train.put("clip_norm", clipNorm);
        train.put("seed", seed);
        train.put("trainable", trainable);
        train.put("max_bad_steps", maxBadSteps);
        return train;
    }

    private static double parseBeta(RecipeNode item) {
        String text = item.text();
        try {
            double value = Double.parseDouble(text == null ? "" : text.trim());
            if (value >= 0 && value < 1) {
                return value;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        item.problem("must be a number in [0, 1), got '" + text + "'");
        return 0.9;
    }
}
