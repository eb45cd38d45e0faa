package io.longctx.cli;

import io.longctx.train.Trainer;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** The main job: fine-tune a model by a recipe, resuming from the newest valid checkpoint. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Train by a recipe: pack the data (or reuse the store), load the base model or resume from "
                + "the newest valid checkpoint in output.dir, run the steps, checkpoint, and stop cleanly on "
                + "SIGTERM/SIGINT.",
                "Exit codes: 0 done, 2 bad input, 3 stopped after repeated non-finite steps, 75 preempted "
                        + "(checkpoint written; rerun to resume)."})
final class TrainCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    RecipeOptions recipe;

    @Option(names = "--restart", description = "Delete the run's checkpoints and metrics and start anew.")
    boolean restart;

    @Override
    public Integer call() {
        return new Trainer(recipe.load(), spec.commandLine().getErr()::println).run(restart);
    }
}
