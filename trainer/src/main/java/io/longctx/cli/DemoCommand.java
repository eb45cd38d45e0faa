package io.longctx.cli;

import io.longctx.LongctxException;
import io.longctx.demo.Demo;
import io.longctx.demo.DemoPlan;
import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import io.longctx.eval.PasskeyDepths;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** The end-to-end demonstration (what scripts/demo.sh runs). */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Pretrain a small model at a short context (unless its export exists), extend it with YaRN, "
                + "evaluate base / PI / NTK / YaRN / fine-tuned on held-out documents, run passkey retrieval, and "
                + "write a report folder. Re-running reuses what is done."})
final class DemoCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--pretrain", defaultValue = "configs/demo-pretrain.yaml", paramLabel = "RECIPE")
    Path pretrain;

    @Option(names = "--extend", defaultValue = "configs/demo-yarn.yaml", paramLabel = "RECIPE")
    Path extend;

    @Option(names = "--base", defaultValue = "checkpoints/demo-base", paramLabel = "DIR",
            description = "Where stage 1 is exported (the extension recipe's model.path).")
    Path base;

    @Option(names = "--out", defaultValue = "reports/demo", paramLabel = "DIR")
    Path out;

    @Option(names = "--set-pretrain", paramLabel = "KEY=VALUE", description = "Override a stage-1 recipe value.")
    List<String> pretrainOverrides = new ArrayList<>();

    @Option(names = "--set-extend", paramLabel = "KEY=VALUE", description = "Override a stage-2 recipe value.")
    List<String> extendOverrides = new ArrayList<>();

    @Option(names = "--eval-data", arity = "1..*", paramLabel = "PATH",
            defaultValue = "data/demo-corpus/sotu/201*.txt",
            description = "Held-out documents (globs allowed). Default: ${DEFAULT-VALUE}, the addresses the "
                    + "recipes do not train on.")
    List<String> evalData;

    @Option(names = "--eval-lengths", split = ",", paramLabel = "N,N,...",
            description = "Default: the original context doubled up to the target.")
    List<Integer> evalLengths = new ArrayList<>();

    @Option(names = "--stride", defaultValue = "256")
    int stride;

    @Option(names = "--eval-max-tokens", defaultValue = "3072", paramLabel = "N",
            description = "Tokens used of each held-out document (default ${DEFAULT-VALUE}).")
    int evalMaxTokens;

    @Option(names = "--passkey-depths", split = ",", paramLabel = "D,D,...",
            description = "A grid of key depths for the heat maps; without it every trial puts the key at a random "
                    + "depth, binned into --passkey-bins rows.")
    List<Double> passkeyDepths = new ArrayList<>();

    @Option(names = "--passkey-bins", defaultValue = "5", paramLabel = "N")
    int passkeyBins;

    @Option(names = "--passkey-trials", defaultValue = "50", paramLabel = "N",
            description = "Trials per length (per grid depth with --passkey-depths; default ${DEFAULT-VALUE}).")
    int passkeyTrials;

    @Option(names = "--attention", defaultValue = "sdpa")
    String attention;

    @Override
    public Integer call() {
        DemoPlan plan = new DemoPlan(pretrain, pretrainOverrides, extend, extendOverrides, base, out,
                expandGlobs(evalData), evalLengths, stride, evalMaxTokens, passkeyDepths.isEmpty()
                ? PasskeyDepths.random(passkeyBins) : PasskeyDepths.grid(passkeyDepths), passkeyTrials, attention);
        Path report = new Demo(plan, spec.commandLine().getErr()::println).run();
        spec.commandLine().getOut().println("report: " + report);
        spec.commandLine().getOut().println("charts: " + out.resolve("perplexity.png") + ", "
                + out.resolve("loss-by-position.png") + ", " + out.resolve("passkey.png"));
        spec.commandLine().getOut().println("extended model (HF format): " + out.resolve("extended-model"));
        return 0;
    }

    /** Paths as given; one whose file name holds '*' or '?' matches files in its folder. */
    static List<Path> expandGlobs(List<String> patterns) {
        List<Path> paths = new ArrayList<>();
        for (String pattern : patterns) {
            Path path = Path.of(pattern);
            String name = path.getFileName().toString();
            if (!name.contains("*") && !name.contains("?")) {
                paths.add(path);
                continue;
            }
            Path dir = path.getParent() == null ? Path.of(".") : path.getParent();
            PathMatcher matcher = FileSystems.getDefault().getPathMatcher("glob:" + name);
            try (Stream<Path> files = Files.list(dir)) {
                List<Path> matched = files.filter(p -> matcher.matches(p.getFileName())).sorted().toList();
                if (matched.isEmpty()) {
                    throw new LongctxException("--eval-data: no file matches " + pattern);
                }
                paths.addAll(matched);
            } catch (IOException e) {
                throw new LongctxException("--eval-data: cannot list " + dir + " (" + e.getMessage() + ")");
            }
        }
        return paths;
    }
}
