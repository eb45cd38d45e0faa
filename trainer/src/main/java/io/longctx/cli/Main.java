package io.longctx.cli;

import io.longctx.LongctxException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The longctx command line. Run through scripts/longctx, which supplies the JVM flags DJL needs offline.
 *
 * <p>Exit codes: 0 success, 2 bad input or usage (one line naming the file, key or tensor), 1 an internal error.
 */
@Command(name = "longctx", mixinStandardHelpOptions = true, version = "longctx 0.1.0",
        description = "Extend the context window of pretrained RoPE language models.",
        subcommands = {RopeCommand.class, ScoreCommand.class, GenerateCommand.class, EvalCommand.class,
                PackCommand.class, DataCommand.class, PlanCommand.class, PlanTableCommand.class, TrainCommand.class, ExportCommand.class,
                VerifyExportCommand.class,
                PasskeyCommand.class, DemoCommand.class, BenchCommand.class, BenchCommand.Child.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    public static final int EXIT_INPUT_ERROR = 2;
    public static final int EXIT_INTERNAL_ERROR = 1;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        System.setProperty("java.awt.headless", "true");
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
        PrintWriter out = new PrintWriter(System.out, true);
        PrintWriter err = new PrintWriter(System.err, true);
        System.exit(execute(args, out, err));
    }

    /** Runs one command line with the given writers; returns the exit code. */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine commandLine = new CommandLine(new Main());
        commandLine.setCaseInsensitiveEnumValuesAllowed(true);
        commandLine.setOut(out);
        commandLine.setErr(err);
        commandLine.setExecutionExceptionHandler((ex, cmd, parseResult) -> {
            LongctxException input = findInputError(ex);
            if (input != null) {
                err.println("error: " + input.getMessage());
                err.flush();
                return EXIT_INPUT_ERROR;
            }
            err.println("error: internal: " + ex);
            if (System.getenv("LONGCTX_DEBUG") != null) {
                ex.printStackTrace(err);
            } else {
                err.println("(set LONGCTX_DEBUG=1 for the stack trace)");
            }
            err.flush();
            return EXIT_INTERNAL_ERROR;
        });
        int code = commandLine.execute(args);
        out.flush();
        err.flush();
        return code;
    }

    private static LongctxException findInputError(Throwable ex) {
        for (Throwable t = ex; t != null; t = t.getCause()) {
            if (t instanceof LongctxException input) {
                return input;
            }
        }
        return null;
    }
}
