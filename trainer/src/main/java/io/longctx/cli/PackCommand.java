package io.longctx.cli;

import io.longctx.data.PackJob;
import io.longctx.train.Recipe;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** Tokenizes and packs a recipe's data once into its token store. */
@Command(name = "pack", mixinStandardHelpOptions = true,
        description = "Tokenize and pack the recipe's documents into its token store (data.store). A store that "
                + "matches the recipe and tokenizer is reused; one that does not is rebuilt.")
final class PackCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    RecipeOptions recipe;

    @Option(names = "--force", description = "Rebuild even when the store is up to date.")
    boolean force;

    @Override
    public Integer call() {
        Recipe loaded = recipe.load();
        PrintWriter err = spec.commandLine().getErr();
        PackJob.Result result = new PackJob(loaded.data(), err::println).run(force);
        PrintWriter out = spec.commandLine().getOut();
        out.println((result.reused() ? "store up to date: " : "packed: ") + result.store().dir());
        out.println(DataCommand.statsTable(result.store()));
        return 0;
    }
}
