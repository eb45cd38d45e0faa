package io.longctx.cli;

import io.longctx.LongctxException;
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
                "Exit codes: 0 done, 2 bad input (or a recipe changed in a way that alters the run being "
                        + "resumed), 3 stopped after repeated non-finite steps, 75 preempted (checkpoint written, "
                        + "inside a step if the signal came between micro-batches; rerun to resume)."})
final class TrainCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    RecipeOptions recipe;

    @Option(names = "--restart", description = "Delete the run's checkpoints and metrics and start anew.")
    boolean restart;

    @Option(names = "--profile-step", paramLabel = "N", defaultValue = "0", description = "Run optimizer step N "
            + "under libtorch's profiler: the run folder gets profile-step-N.json (a Chrome trace; open it in "
            + "Perfetto) and profile-step-N.txt (self time per operator and category), also printed.")
    int profileStep;

    @Option(names = "--print-run-dir", description = "Print the run folder the recipe trains in (output.dir) and "
            + "exit; batch launchers read its preemption.json.")
    boolean printRunDir;

    @Override
    public Integer call() {
        if (printRunDir) {
            spec.commandLine().getOut().println(recipe.load().output().dir().toAbsolutePath());
            return 0;
        }
        if (profileStep < 0) {
            throw new LongctxException("--profile-step must be a step number (1 or more), got " + profileStep);
        }
        return new Trainer(recipe.load(), spec.commandLine().getErr()::println, profileStep).run(restart);
    }
}
