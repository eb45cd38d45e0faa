package io.longctx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.SharedAssets;
import io.longctx.data.TokenIdsFile;
import io.longctx.testing.CliRun;
import io.longctx.testing.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** score, generate and eval through the CLI, as a user runs them. */
class ModelCommandsTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void generateJson_reproducesLlama2cGreedy() throws Exception {
        Path dir = SharedAssets.stories260K();
        Path prompt = tmp.resolve("bos.ids");
        Files.writeString(prompt, "1");
        CliRun run = CliRun.of("generate", "--model", dir.toString(), "--ids", prompt.toString(),
                "--max-new-tokens", "32", "--json");
        assertEquals(0, run.exitCode(), run.err());
        JsonNode result = MAPPER.readTree(run.out());
        JsonNode expected = MAPPER.readTree(dir.resolve("greedy-from-bos.json").toFile())
                .get("generated_ids_first_32");
        assertEquals(1, result.get("prompt_tokens").asInt());
        assertEquals(expected, result.get("generated_ids"));
        assertTrue(!result.has("text"), "no tokenizer, so no text");
    }

    @Test
    void sampling_isSeeded() throws Exception {
        Path dir = SharedAssets.stories260K();
        Path prompt = tmp.resolve("bos.ids");
        Files.writeString(prompt, "1");
        String[] args = {"generate", "--model", dir.toString(), "--ids", prompt.toString(), "--max-new-tokens", "20",
            "--temperature", "1.0", "--seed", "42", "--json", "--ignore-eos"};
        JsonNode a = MAPPER.readTree(CliRun.of(args).out());
        JsonNode b = MAPPER.readTree(CliRun.of(args).out());
        args[10] = "43";
        JsonNode c = MAPPER.readTree(CliRun.of(args).out());
        assertEquals(a.get("generated_ids"), b.get("generated_ids"));
        assertTrue(!a.get("generated_ids").equals(c.get("generated_ids")), "another seed, another sample");
    }

    @Test
    void scoreJson_meanMatchesPerTokenValues_andPlainAttentionAgrees() throws Exception {
        Path dir = SharedAssets.stories260K();
        Path ids = tmp.resolve("seq.ids");
        JsonNode ref = MAPPER.readTree(dir.resolve("reference-logits.json").toFile());
        StringBuilder text = new StringBuilder();
        ref.get("token_ids").forEach(id -> text.append(id.asInt()).append(' '));
        Files.writeString(ids, text.toString());
        JsonNode sdpa = MAPPER.readTree(CliRun.of("score", "--model", dir.toString(), "--ids", ids.toString(),
                "--json").out());
        JsonNode plain = MAPPER.readTree(CliRun.of("score", "--model", dir.toString(), "--ids", ids.toString(),
                "--json", "--attention", "plain").out());
        assertEquals(64, sdpa.get("tokens").asInt());
        assertEquals(63, sdpa.get("nll").size());
        double sum = 0;
        for (int i = 0; i < 63; i++) {
            sum += sdpa.get("nll").get(i).asDouble();
            assertEquals(plain.get("nll").get(i).asDouble(), sdpa.get("nll").get(i).asDouble(), 1e-4);
        }
        assertEquals(sum / 63, sdpa.get("mean_nll").asDouble(), 1e-9);
    }

    /** The real stories260K model in bf16 against fp32: the mean NLL moves by bf16 rounding only. */
    @Test
    void scoreAndGenerate_inBf16_followFp32WithinBf16Tolerance() throws Exception {
        Path dir = SharedAssets.stories260K();
        Path ids = tmp.resolve("seq.ids");
        StringBuilder text = new StringBuilder();
        for (int id : SharedAssets.stories260KReferenceIds()) {
            text.append(id).append(' ');
        }
        Files.writeString(ids, text.toString());
        JsonNode fp32 = MAPPER.readTree(CliRun.of("score", "--model", dir.toString(), "--ids", ids.toString(),
                "--json", "--precision", "fp32").out());
        CliRun bf16Run = CliRun.of("score", "--model", dir.toString(), "--ids", ids.toString(), "--json",
                "--precision", "bf16");
        assertEquals(0, bf16Run.exitCode(), bf16Run.err());
        JsonNode bf16 = MAPPER.readTree(bf16Run.out());
        double relative = Math.abs(bf16.get("mean_nll").asDouble() / fp32.get("mean_nll").asDouble() - 1);
        assertTrue(relative < 0.02, "mean NLL fp32 " + fp32.get("mean_nll") + " bf16 " + bf16.get("mean_nll"));
        assertTrue(relative > 0, "bf16 really ran in bf16");
        CliRun generated = CliRun.of("generate", "--model", dir.toString(), "--ids", ids.toString(),
                "--max-new-tokens", "8", "--precision", "bf16");
        assertEquals(0, generated.exitCode(), generated.err());
        CliRun plain = CliRun.of("score", "--model", dir.toString(), "--ids", ids.toString(), "--precision", "bf16",
                "--attention", "plain");
        assertEquals(2, plain.exitCode());
        assertTrue(plain.errorLine().contains("fp32 only"), plain.err());
    }

    @Test
    void eval_writesResultsChartsAndTable() throws Exception {
        Path model = TinyModels.write(tmp.resolve("tiny"), TinyModels.llamaConfig(), 5);
        Random random = new Random(0);
        Files.createDirectories(tmp.resolve("docs"));
        for (int d = 0; d < 2; d++) {
            int[] doc = new int[300];
            for (int i = 0; i < doc.length; i++) {
                doc[i] = 3 + random.nextInt(60);
            }
            TokenIdsFile.write(tmp.resolve("docs/doc" + d + ".ids"), doc);
        }
        Path out = tmp.resolve("eval");
        CliRun run = CliRun.of("eval", "--model", model.toString(), "--data", tmp.resolve("docs").toString(),
                "--lengths", "32,64,128", "--stride", "16", "--rope-scaling", "none", "--rope-scaling",
                "{\"rope_type\":\"yarn\",\"factor\":2}", "--out", out.toString());
        assertEquals(0, run.exitCode(), run.err());
        JsonNode results = MAPPER.readTree(out.resolve("results.json").toFile());
        assertEquals(2, results.get("variants").size());
        for (JsonNode variant : results.get("variants")) {
            assertEquals(3, variant.get("lengths").size());
            for (JsonNode row : variant.get("lengths")) {
                double ppl = row.get("perplexity").asDouble();
                assertTrue(ppl > 1 && ppl < 1000, "perplexity " + ppl);
                assertEquals(Math.exp(row.get("mean_nll").asDouble()), ppl, 1e-9);
                assertEquals(2, row.get("documents").asInt());
                assertEquals(2 * 300, row.get("tokens_scored").asInt(), "each document token scored once");
            }
        }
        assertEquals("yarn", results.get("variants").get(1).get("rope_type").asText());
        assertTrue(Files.size(out.resolve("perplexity.png")) > 1000);
        assertTrue(Files.size(out.resolve("loss-by-position.png")) > 1000);
        assertTrue(run.out().contains("tiny yarn x2"), run.out());
        assertTrue(run.err().contains("tiny L=128"), "progress is shown: " + run.err());
        assertEquals("sliding", results.get("protocol").asText());
        assertEquals("tokens", results.get("aggregate").asText());

        Path truncated = tmp.resolve("eval-truncate");
        CliRun paper = CliRun.of("eval", "--model", model.toString(), "--data", tmp.resolve("docs").toString(),
                "--lengths", "32,64", "--protocol", "truncate", "--aggregate", "windows", "--rope-scaling", "none",
                "--out", truncated.toString());
        assertEquals(0, paper.exitCode(), paper.err());
        JsonNode recorded = MAPPER.readTree(truncated.resolve("results.json").toFile());
        assertEquals("truncate", recorded.get("protocol").asText());
        assertEquals("windows", recorded.get("aggregate").asText());
        assertTrue(recorded.get("stride").isNull(), "truncate has no stride");
        assertTrue(paper.out().contains("one window per document"), paper.out());
        assertEquals(2 * 31, recorded.get("variants").get(0).get("lengths").get(0).get("tokens_scored").asInt(),
                "BOS + the first 31 tokens, each of them predicted");
    }
}
