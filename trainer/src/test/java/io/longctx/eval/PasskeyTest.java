package io.longctx.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.longctx.data.tokenize.ByteLevelTokenizer;
import io.longctx.data.tokenize.TextTokenizer;
import io.longctx.testing.TinyModels;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The passkey prompt as the YaRN repository's passkey evaluation writes it, and the study's random depths. */
class PasskeyTest {
    @TempDir
    Path tmp;

    @Test
    void prompt_isYarnsConstruction_joinedByNewlines_fillerCutAtCharacters() {
        String garbage = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";
        String inf = String.join(" ", Collections.nCopies(50, garbage));                 // " ".join([garbage] * n)
        int n = 1000;
        int prefix = 250;
        String expected = "There is an important info hidden inside a lot of irrelevant text. Find it and memorize "
                + "them. I will quiz you about the important information there.\n" + inf.substring(0, prefix) + "\n"
                + "The pass key is 4242. Remember it. 4242 is the pass key.\n" + inf.substring(0, n - prefix) + "\n"
                + "What is the pass key? The pass key is";
        assertEquals(expected, Passkey.prompt(true, n, 0.25, 4242));
        // --no-task: the same layout from the filler on, for contexts too short for the description line
        assertEquals(expected.substring(expected.indexOf('\n') + 1), Passkey.prompt(false, n, 0.25, 4242));
        assertTrue(Passkey.protocol(false).contains("without its task description"));
    }

    @Test
    void trial_isOneTokenizedString_asLongAsFits() {
        try (TextTokenizer bytes = ByteLevelTokenizer.load()) {
            for (double depth : new double[] {0, 0.37, 1}) {
                Passkey.Trial trial = Passkey.trial(bytes, ByteLevelTokenizer.BOS_ID, true, 1024, depth, 31337);
                assertEquals(1024, trial.tokens().length, "ASCII bytes are one token each: the prompt fills 1024");
                assertEquals(ByteLevelTokenizer.BOS_ID, trial.tokens()[0]);
                int filler = 1024 - 1 - Passkey.prompt(true, 0, depth, 31337).length();
                int[] text = bytes.encode(Passkey.prompt(true, filler, depth, 31337));
                assertArrayEquals(text, java.util.Arrays.copyOfRange(trial.tokens(), 1, 1024));
                assertEquals(depth, trial.depth(), 1.0 / filler);
            }
        }
    }

    @Test
    void study_randomDepths_areSeeded_recorded_andBinned() throws Exception {
        ObjectNode config = TinyModels.llamaConfig();
        config.put("vocab_size", ByteLevelTokenizer.VOCAB_SIZE);
        config.put("max_position_embeddings", 512);
        Path model = TinyModels.write(tmp.resolve("m"), config, 3);
        ByteLevelTokenizer.write(model);
        PasskeyStudy.Result first;
        PasskeyStudy.Result again;
        try (ModelSession session = ModelSession.open(model, null, "sdpa")) {
            first = PasskeyStudy.run(session, List.of(300, 400), PasskeyDepths.random(4), true, 6, 99, line -> { });
            again = PasskeyStudy.run(session, List.of(300, 400), PasskeyDepths.random(4), true, 6, 99, line -> { });
        }
        assertEquals(12, first.trials());
        assertEquals(4, first.rows().size());
        int counted = 0;
        Set<Double> depths = new HashSet<>();
        for (Map<String, Object> cell : first.cells()) {
            counted += (Integer) cell.get("count");
            for (Object t : (List<?>) cell.get("trials")) {
                double depth = (Double) ((Map<?, ?>) t).get("depth");
                double centre = (Double) cell.get("depth");
                assertTrue(Math.abs(depth - centre) <= 0.125 + 1e-9, depth + " binned at " + centre);
                assertTrue((Integer) ((Map<?, ?>) t).get("prompt_tokens") <= (Integer) cell.get("length"));
                depths.add(depth);
            }
        }
        assertEquals(12, counted, "every trial lands in one bin");
        assertTrue(depths.size() >= 10, "random depths: " + depths);
        assertEquals(first.cells().toString(), again.cells().toString(), "the same seed, the same trials");
    }
}
