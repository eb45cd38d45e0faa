package io.longctx.cli;

import io.longctx.eval.JsonText;
import io.longctx.LongctxException;
import io.longctx.data.TokenIdsFile;
import io.longctx.eval.TokenScorer;
import io.longctx.eval.ModelSession;
import io.longctx.eval.TokenInput;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** Per-token negative log-likelihood of one sequence. */
@Command(name = "score", mixinStandardHelpOptions = true,
        description = "Score a token sequence: the NLL of every predicted position and their mean.")
final class ScoreCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--ids", paramLabel = "FILE", description = "Whitespace-separated token ids.")
        Path ids;

        @Option(names = "--text", paramLabel = "FILE", description = "A UTF-8 text file (needs tokenizer.json).")
        Path text;
    }

    @Option(names = "--json", description = "Print {\"tokens\", \"mean_nll\", \"nll\"} as one JSON object.")
    boolean json;

    @Override
    public Integer call() {
        try (ModelSession session = modelOptions.open()) {
            int[] ids = input.ids != null ? TokenIdsFile.read(input.ids)
                    : TokenInput.fromText(session, TokenInput.readText(input.text), input.text.toString());
            if (ids.length < 2) {
                throw new LongctxException((input.ids != null ? input.ids : input.text)
                        + ": needs at least 2 tokens to score, got " + ids.length);
            }
            double[] nll = new TokenScorer(session.model, session.manager).nll(ids);
            double mean = 0;
            for (double v : nll) {
                mean += v;
            }
            mean /= nll.length;
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("tokens", ids.length);
                result.put("mean_nll", mean);
                result.put("nll", nll);
                out.println(JsonText.compact(result));
            } else {
                out.printf(Locale.ROOT, "tokens %d  predicted %d  mean_nll %.6f  perplexity %.4f%n", ids.length,
                        nll.length, mean, Math.exp(mean));
            }
            return 0;
        }
    }
}
