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

    @Option(names = "--nproc", paramLabel = "N", defaultValue = "1", description = "Start N ranks on this machine "
            + "(like torchrun --nproc-per-node N): data parallel over c10d, one CUDA device or 1/N of the CPU threads "
            + "each. A process started by torchrun or srun (RANK/WORLD_SIZE or SLURM_PROCID/SLURM_NTASKS set) joins "
            + "its job without this option.")
    int nproc;

    @Option(names = "--max-restarts", paramLabel = "K", defaultValue = "3", description = "With --nproc: restart "
            + "the whole job up to K times when a rank dies; it resumes from the newest complete checkpoint.")
    int maxRestarts;

    @Override
    public Integer call() {
        if (nproc < 1) {
            throw new LongctxException("--nproc must be 1 or more, got " + nproc);
        }
        if (nproc > 1 && System.getenv("WORLD_SIZE") == null) {
            io.longctx.train.Recipe loaded = recipe.load();
            if (loaded.train().gradAccum() % nproc != 0) {
                throw new LongctxException("train.grad_accum: " + loaded.train().gradAccum() + " micro-batches per "
                        + "step (the global batch) cannot be dealt evenly to " + nproc + " ranks");
            }
            java.util.List<String> arguments = new java.util.ArrayList<>(spec.commandLine().getParseResult()
                    .originalArgs());
            stripOption(arguments, "--nproc");
            stripOption(arguments, "--max-restarts");
            // the first attempt restarts; a relaunch after a lost rank resumes instead
            arguments.remove("--restart");
            if (arguments.isEmpty() || !arguments.get(0).equals("train")) {
                arguments.add(0, "train");
            }
            return new io.longctx.distributed.LocalLauncher(nproc, maxRestarts, arguments, restart,
                    loaded.output().dir(), loaded.run().distributed().timeoutSeconds(),
                    spec.commandLine().getErr()::println).run();
        }
        if (printRunDir) {
            spec.commandLine().getOut().println(recipe.load().output().dir().toAbsolutePath());
            return 0;
        }
        if (profileStep < 0) {
            throw new LongctxException("--profile-step must be a step number (1 or more), got " + profileStep);
        }
        return new Trainer(recipe.load(), spec.commandLine().getErr()::println, profileStep).run(restart);
    }

    /** Removes "--name value" and "--name=value" from a command line. */
    private static void stripOption(java.util.List<String> arguments, String name) {
        for (int i = 0; i < arguments.size(); i++) {
            if (arguments.get(i).equals(name)) {
                arguments.remove(i);
                if (i < arguments.size()) {
                    arguments.remove(i);
                }
                i--;
            } else if (arguments.get(i).startsWith(name + "=")) {
                arguments.remove(i--);
            }
        }
    }
}
