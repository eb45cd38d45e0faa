package io.longctx.cli;

import io.longctx.eval.JsonText;
import io.longctx.LongctxException;
import io.longctx.data.TokenIdsFile;
import io.longctx.eval.Generator;
import io.longctx.eval.ModelSession;
import io.longctx.eval.TokenInput;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** Continues a prompt, greedily or by seeded sampling, with a KV cache. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate a continuation: greedy at temperature 0, seeded sampling otherwise.")
final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--ids", paramLabel = "FILE", description = "Prompt as whitespace-separated token ids.")
        Path ids;

        @Option(names = "--text", paramLabel = "STRING", description = "Prompt text (needs tokenizer.json).")
        String text;
    }

    @Option(names = "--max-new-tokens", required = true, paramLabel = "N")
    int maxNewTokens;

    @Option(names = "--temperature", defaultValue = "0", paramLabel = "T")
    double temperature;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S")
    long seed;

    @Option(names = "--ignore-eos", description = "Keep generating past the end-of-sequence token.")
    boolean ignoreEos;

    @Option(names = "--json", description = "Print {\"prompt_tokens\", \"generated_ids\", \"text\"}.")
    boolean json;

    @Override
    public Integer call() {
        if (maxNewTokens < 0) {
            throw new LongctxException("--max-new-tokens must be >= 0, got " + maxNewTokens);
        }
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new LongctxException("--temperature must be a finite number >= 0, got " + temperature);
        }
        try (ModelSession session = modelOptions.open()) {
            int[] prompt = input.ids != null ? TokenIdsFile.read(input.ids)
                    : TokenInput.fromText(session, input.text, "--text");
            if (prompt.length == 0) {
                throw new LongctxException("the prompt is empty");
            }
            Integer eos = session.weights.config().eosTokenId();
            int stop = ignoreEos || eos == null ? -1 : eos;
            int[] generated = new Generator(session.model, session.manager)
                    .generate(prompt, maxNewTokens, temperature, seed, stop);
            String text = session.tokenizer == null ? null : session.tokenizer.decode(generated);
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("prompt_tokens", prompt.length);
                result.put("generated_ids", generated);
                if (text != null) {
                    result.put("text", text);
                }
                out.println(JsonText.compact(result));
            } else {
                out.println(text != null ? text : Arrays.toString(generated));
            }
            return 0;
        }
    }
}
