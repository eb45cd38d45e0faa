package io.longctx.gguf;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The real llama.cpp for a test, or the test is skipped with the reason (no node, no registry to install from). */
final class LlamaCppTesting {
    private LlamaCppTesting() {
    }

    static LlamaCppCheck orSkip() {
        StringBuilder why = new StringBuilder();
        LlamaCppCheck check = LlamaCppCheck.locate(why::append).orElse(null);
        assumeTrue(check != null, "skipped: " + why);
        return check;
    }
}
