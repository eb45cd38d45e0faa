package io.longctx.cli;

import io.longctx.LongctxException;
import io.longctx.eval.ModelSession;
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
        description = {"Passkey retrieval: hide a 1..50000 key at each depth of filler text of each length, ask for "
                + "it at the end, decode greedily (with a KV cache) and parse the first integer.",
                "Writes passkey.json and passkey.png (accuracy heat map, length x depth) to --out."})
final class PasskeyCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--lengths", required = true, split = ",", paramLabel = "N,N,...")
    List<Integer> lengths;

    @Option(names = "--depths", split = ",", defaultValue = "0,0.25,0.5,0.75,1", paramLabel = "D,D,...",
            description = "Relative depths of the key line, 0 (start) to 1 (end). Default ${DEFAULT-VALUE}.")
    List<Double> depths;

    @Option(names = "--trials", defaultValue = "5", description = "Keys per (length, depth). Default "
            + "${DEFAULT-VALUE}.")
    int trials;

    @Option(names = "--seed", defaultValue = "1234")
    long seed;

    @Option(names = "--out", defaultValue = "passkey-results", paramLabel = "DIR")
    Path out;

    @Override
    public Integer call() {
        if (trials < 1) {
            throw new LongctxException("--trials must be >= 1, got " + trials);
        }
        for (double d : depths) {
            if (d < 0 || d > 1) {
                throw new LongctxException("--depths must lie in [0, 1], got " + d);
            }
        }
        try (ModelSession session = modelOptions.open()) {
            PasskeyStudy.Result result = PasskeyStudy.run(session, lengths, depths, trials, seed,
                    spec.commandLine().getErr()::println);
            PrintWriter printer = spec.commandLine().getOut();
            PasskeyStudy.write(out, "passkey", result, seed);
            PasskeyStudy.printTable(printer, result);
            printer.println("wrote " + out.resolve("passkey.json") + ", " + out.resolve("passkey.png"));
            return 0;
        }
    }
}
