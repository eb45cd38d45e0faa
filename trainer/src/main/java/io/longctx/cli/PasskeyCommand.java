package io.longctx.cli;

import io.longctx.LongctxException;
import io.longctx.eval.ModelSession;
import io.longctx.eval.PasskeyDepths;
import io.longctx.eval.PasskeyStudy;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** Passkey retrieval accuracy by context length and depth. */
@Command(name = "passkey", mixinStandardHelpOptions = true,
        description = {"Passkey retrieval with the YaRN evaluation's prompt: a 1..50000 key hidden at a random (or "
                + "given) depth of filler text of each length, asked for at the end; 10 greedy tokens (KV cache), "
                + "first integer.",
                "Writes passkey.json and passkey.png (accuracy heat map, length x depth) to --out."})
final class PasskeyCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--lengths", required = true, split = ",", paramLabel = "N,N,...")
    List<Integer> lengths;

    @Option(names = "--depths", split = ",", paramLabel = "D,D,...",
            description = "A grid of key depths, 0 (start) to 1 (end), each tried --trials times per length. "
                    + "Without it every trial puts the key at a random character depth, as the YaRN evaluation does.")
    List<Double> depths;

    @Option(names = "--depth-bins", defaultValue = "5", description = "Heat-map rows that random depths are "
            + "binned into (default ${DEFAULT-VALUE}).")
    int depthBins;

    @Option(names = "--trials", defaultValue = "5", description = "Keys per length (random depths) or per length "
            + "and grid depth. Default ${DEFAULT-VALUE}.")
    int trials;

    @Option(names = "--no-task", description = "Leave out YaRN's task description line (about 150 characters), "
            + "for a model whose context cannot hold it with filler, or that was trained on prompts without it.")
    boolean noTask;

    @Option(names = "--seed", defaultValue = "1234")
    long seed;

    @Option(names = "--out", defaultValue = "passkey-results", paramLabel = "DIR")
    Path out;

    @Override
    public Integer call() {
        if (trials < 1) {
            throw new LongctxException("--trials must be >= 1, got " + trials);
        }
        PasskeyDepths where = depths == null ? PasskeyDepths.random(depthBins) : PasskeyDepths.grid(depths);
        try (ModelSession session = modelOptions.open()) {
            PasskeyStudy.Result result = PasskeyStudy.run(session, lengths, where, !noTask, trials, seed,
                    spec.commandLine().getErr()::println);
            PrintWriter printer = spec.commandLine().getOut();
            PasskeyStudy.write(out, "passkey", result, seed);
            PasskeyStudy.printTable(printer, result);
            printer.println("wrote " + out.resolve("passkey.json") + ", " + out.resolve("passkey.png"));
            return 0;
        }
    }
}
