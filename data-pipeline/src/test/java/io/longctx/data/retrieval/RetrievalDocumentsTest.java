package io.longctx.data.retrieval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longctx.LongctxException;
import io.longctx.data.tokenize.ByteLevelTokenizer;
import io.longctx.data.tokenize.TextTokenizer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Synthetic passkey documents: their layout, lengths, depths and determinism, checked on the text itself. */
class RetrievalDocumentsTest {
    private static TextTokenizer bytes;

    @BeforeAll
    static void load() {
        bytes = ByteLevelTokenizer.load();
    }

    @AfterAll
    static void close() {
        bytes.close();
    }

    private static List<RetrievalDocuments.Generated> generate(RetrievalSource spec, FillerPool pool, int n) {
        RetrievalDocuments docs = new RetrievalDocuments(spec, bytes, pool, "data.sources[1]");
        List<RetrievalDocuments.Generated> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(docs.next());
        }
        return out;
    }

    @Test
    void fixedFillerWithTask_isTheEvaluationPromptFollowedByItsAnswer() {
        RetrievalSource spec = new RetrievalSource(0.2, 300, 900, RetrievalSource.Filler.FIXED, true, 11);
        for (RetrievalDocuments.Generated doc : generate(spec, new FillerPool(1), 40)) {
            String answer = " " + doc.key() + ".";
            assertTrue(doc.text().endsWith(PasskeyPrompt.QUESTION + answer), doc.text());
            String prompt = doc.text().substring(0, doc.text().length() - answer.length());
            // the filler length that makes the prompt what it is: total minus the fixed parts
            int fixed = PasskeyPrompt.prompt(0, 0, doc.key()).length();
            int filler = prompt.length() - fixed;
            assertEquals(PasskeyPrompt.prompt(filler, doc.depth(), doc.key()), prompt);
            String keyLine = PasskeyPrompt.keyLine(doc.key());
            int before = prompt.indexOf(keyLine) - PasskeyPrompt.TASK.length() - 2;
            assertEquals(filler == 0 ? 0 : (double) before / filler, filler == 0 ? 0 : doc.depth(), 1e-12);
            // byte tokens: one per byte, so the length is exactly the drawn budget
            assertTrue(doc.tokens().length >= 300 && doc.tokens().length <= 900, "length " + doc.tokens().length);
            assertTrue(doc.key() >= 1 && doc.key() <= PasskeyPrompt.MAX_KEY);
        }
    }

    @Test
    void lengthsAndDepthsSpreadOverTheirRanges() {
        RetrievalSource spec = new RetrievalSource(0.2, 120, 400, RetrievalSource.Filler.FIXED, false, 3);
        List<RetrievalDocuments.Generated> docs = generate(spec, new FillerPool(1), 400);
        int shortest = docs.stream().mapToInt(d -> d.tokens().length).min().orElseThrow();
        int longest = docs.stream().mapToInt(d -> d.tokens().length).max().orElseThrow();
        assertTrue(shortest >= 120 && shortest < 140, "shortest " + shortest);
        assertTrue(longest <= 400 && longest > 380, "longest " + longest);
        long early = docs.stream().filter(d -> d.depth() < 0.2).count();
        long late = docs.stream().filter(d -> d.depth() > 0.8).count();
        assertTrue(early > 50 && late > 50, "depths spread: " + early + " early, " + late + " late of 400");
        assertTrue(docs.stream().noneMatch(d -> d.text().startsWith(PasskeyPrompt.TASK)), "task: false drops it");
    }

    @Test
    void sameSeed_sameDocuments_otherSeed_otherDocuments() {
        RetrievalSource spec = new RetrievalSource(0.2, 260, 400, RetrievalSource.Filler.FIXED, true, 5);
        List<String> a = generate(spec, new FillerPool(1), 20).stream().map(RetrievalDocuments.Generated::text)
                .toList();
        List<String> b = generate(spec, new FillerPool(1), 20).stream().map(RetrievalDocuments.Generated::text)
                .toList();
        RetrievalSource other = new RetrievalSource(0.2, 260, 400, RetrievalSource.Filler.FIXED, true, 6);
        List<String> c = generate(other, new FillerPool(1), 20).stream().map(RetrievalDocuments.Generated::text)
                .toList();
        assertEquals(a, b);
        assertNotEquals(a, c);
    }

    @Test
    void sourcesFiller_readsPassagesOfTheOfferedDocuments_onAfterTheKeyLine() {
        FillerPool pool = new FillerPool(9);
        String book = "Call me Ishmael. Some years ago, never mind how long precisely, having little money. ";
        pool.offer(book.repeat(40));
        RetrievalSource spec = new RetrievalSource(0.2, 200, 400, RetrievalSource.Filler.SOURCES, false, 2);
        for (RetrievalDocuments.Generated doc : generate(spec, pool, 20)) {
            String keyLine = PasskeyPrompt.keyLine(doc.key());
            String[] parts = doc.text().split("\n");
            assertEquals(4, parts.length, doc.text());
            assertEquals(keyLine, parts[1]);
            String passage = parts[0] + parts[2];
            assertTrue((book.repeat(41) + " " + book.repeat(41)).contains(passage), passage);
            assertTrue(parts[3].startsWith(PasskeyPrompt.QUESTION));
        }
    }

    @Test
    void sourcesFillerWithoutOtherDocuments_andTooShortRange_areRefusedNamingTheKey() {
        RetrievalSource sources = new RetrievalSource(0.2, 200, 400, RetrievalSource.Filler.SOURCES, false, 2);
        LongctxException empty = assertThrows(LongctxException.class,
                () -> new RetrievalDocuments(sources, bytes, new FillerPool(1), "data.sources[1]"));
        assertTrue(empty.getMessage().startsWith("data.sources[1].filler"), empty.getMessage());
        RetrievalSource tiny = new RetrievalSource(0.2, 50, 400, RetrievalSource.Filler.FIXED, true, 2);
        LongctxException shortRange = assertThrows(LongctxException.class,
                () -> new RetrievalDocuments(tiny, bytes, new FillerPool(1), "data.sources[1]"));
        assertTrue(shortRange.getMessage().startsWith("data.sources[1].lengths"), shortRange.getMessage());
        assertTrue(shortRange.getMessage().contains("task: false"), shortRange.getMessage());
    }
}
