package io.longctx.testing;

import io.longctx.cli.Main;
import java.io.PrintWriter;
import java.io.StringWriter;

/** Runs the CLI in-process and captures what it prints. */
public record CliRun(int exitCode, String out, String err) {

    public static CliRun of(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new CliRun(code, out.toString(), err.toString());
    }

    /** The error lines the CLI printed (progress lines excluded). */
    public String errorLine() {
        return err.lines().filter(l -> l.startsWith("error:")).findFirst().orElse("");
    }
}
