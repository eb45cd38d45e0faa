package io.longctx.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longctx.engine.Precision;
import io.longctx.lora.LoraConfig;
import io.longctx.model.ModelConfig;
import io.longctx.precision.Offload;
import io.longctx.testing.CliRun;
import io.longctx.testing.TinyRuns;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The memory planner's arithmetic against counts done by hand, and the refusals it drives. */
class MemoryPlannerTest {
    private static final ModelConfig LLAMA2 = ReferenceModels.all().get("Llama-2-7B");
    private static final long GIB = 1L << 30;

    @TempDir
    Path tmp;

    private static long part(MemoryPlan plan, String prefix) {
        return plan.parts().stream().filter(p -> p.name().startsWith(prefix)).mapToLong(MemoryPlan.Part::bytes)
                .sum();
    }

    /** Host bytes held through training: every host part but the transient fp32 weights as read. */
    private static long steadyHost(MemoryPlan plan) {
        return plan.parts().stream().filter(p -> p.where() == MemoryPlan.Where.HOST && !p.name().startsWith("loading"))
                .mapToLong(MemoryPlan.Part::bytes).sum();
    }

    private static PlanInput llama2(Precision precision, Offload offload, LoraConfig lora, int length) {
        return new PlanInput(LLAMA2, length, 1, 1, precision, offload, lora, List.of("*"), false, true, 1, 0);
    }

    @Test
    void passkeyDuringTraining_holdsTheWholePromptsKvCache_betweenSteps() {
        LoraConfig lora = new LoraConfig(8, 16, LoraConfig.DEFAULT_TARGETS, LoraConfig.DEFAULT_EXTRA);
        PlanInput step = llama2(Precision.BF16, Offload.NONE, lora, 16384);
        PlanInput withPasskey = new PlanInput(LLAMA2, 16384, 1, 1, Precision.BF16, Offload.NONE, lora,
                List.of("*"), false, true, 1, 65536);
        MemoryPlan without = MemoryPlanner.plan(step, Long.MAX_VALUE);
        MemoryPlan with = MemoryPlanner.plan(withPasskey, Long.MAX_VALUE);
        long kvCache = 2L * 32 * 65536 * 4096 * 2;                     // k and v, 32 layers, 64k tokens, bf16
        assertEquals(32 * GIB, kvCache);
        // plus one layer over the whole 64k prompt in one pass: its MLP intermediates alone are 4 x 1.3 GiB
        assertTrue(part(with, "passkey") > kvCache && part(with, "passkey") < kvCache + 10 * GIB);
        long transients = part(without, "activations") + part(without, "one ") + part(without, "output");
        assertEquals(Math.max(without.devicePeak(), without.devicePeak() - transients + part(with, "passkey")),
                with.devicePeak(), "the evaluation replaces the step's activations, it does not add to them");
        assertTrue(with.devicePeak() > without.devicePeak(), "at 64k the KV cache outweighs a 16k step's activations");
    }

    @Test
    void fullFp32_countsSixteenBytesPerParameter_andCheckpointedInputs() {
        long params = LLAMA2.parameterCount();
        assertEquals(6_738_415_616L, params, "Llama-2-7B's published parameter count");
        MemoryPlan plan = MemoryPlanner.plan(llama2(Precision.FP32, Offload.NONE, null, 65536), 80 * GIB);
        assertEquals(4 * params, part(plan, "weights"));
        assertEquals(0, part(plan, "master"), "fp32 without offload: the weights are the masters");
        assertEquals(4 * params, part(plan, "gradients"));
        assertEquals(8 * params, part(plan, "optimizer moments"));
        // 32 layer inputs of 65,536 x 4,096 fp32 = 32 GiB, as the issue counts
        assertEquals(32L * 65536 * 4096 * 4, part(plan, "activations saved by checkpointing"));
        assertFalse(plan.fits());
        assertTrue(String.join(" ", plan.advice()).contains("precision: bf16"), plan.advice().toString());
    }

    @Test
    void bf16WithHostOffload_movesTwelveBytesPerParameterToTheHost() {
        long params = LLAMA2.parameterCount();
        MemoryPlan none = MemoryPlanner.plan(llama2(Precision.BF16, Offload.NONE, null, 32768), Long.MAX_VALUE);
        MemoryPlan host = MemoryPlanner.plan(llama2(Precision.BF16, Offload.HOST, null, 32768), Long.MAX_VALUE);
        assertEquals(12 * params, none.devicePeak() - host.devicePeak(), "fp32 masters and two moments");
        assertEquals(2 * params, part(host, "weights"), "bf16 compute copy");
        assertEquals(32L * 32768 * 4096 * 2, part(host, "activations saved by checkpointing"),
                "bf16 layer inputs: half of fp32's");
        assertTrue(host.hostPeak() >= 16 * params, "masters, moments and the update's gradients on the host");
    }

    @Test
    void headChunkAndSegmentRecompute_areAlternativePhases_notASum() {
        // small at 2k: a 512 x 32000 logits chunk (about 262 MiB in bf16) outweighs one layer's recompute (57 MiB)
        ModelConfig small = io.longctx.bench.BenchModels.config("small", 2048);
        MemoryPlan headBound = MemoryPlanner.plan(new PlanInput(small, 2048, 1, 1, Precision.BF16, Offload.NONE,
                null, List.of("*"), false, false, 1, 0), Long.MAX_VALUE);
        // logits, log-softmax, their gradients; the head's input and its gradient; the trained head weight's
        // (V, H) gradient of each chunk before it is added into .grad
        long chunk = 512L * 32000 * (2 * 2 + 2 * 4 + 4) + 2L * 2048 * 512 * 2 + 32000L * 512 * 2;
        assertEquals(chunk, part(headBound, "output head chunk"));
        MemoryPlan frozenHead = MemoryPlanner.plan(new PlanInput(small, 2048, 1, 1, Precision.BF16, Offload.NONE,
                null, List.of("model.layers.*"), false, false, 1, 0), Long.MAX_VALUE);
        assertEquals(chunk - 32000L * 512 * 2, part(frozenHead, "output head chunk"), "a frozen head: no (V, H) gradient");
        assertEquals(0, part(headBound, "one segment"), "the head runs in its own scope before any recompute");
        // two layers per segment: the recompute doubles but stays below the head, so only the inputs change
        MemoryPlan twoLayers = MemoryPlanner.plan(new PlanInput(small, 2048, 1, 2, Precision.BF16, Offload.NONE,
                null, List.of("*"), false, false, 1, 0), Long.MAX_VALUE);
        assertEquals(headBound.devicePeak() - 4L * 2048 * 512 * 2, twoLayers.devicePeak());
        // at 8k in fp32 the recompute phase is the larger: recompute + layer backward + attention, no head part
        MemoryPlan recomputeBound = MemoryPlanner.plan(new PlanInput(io.longctx.bench.BenchModels.config("small",
                8192), 8192, 1, 1, Precision.FP32, Offload.NONE, null, List.of("*"), false, false, 1, 0),
                Long.MAX_VALUE);
        assertEquals(0, part(recomputeBound, "output head"));
        assertTrue(part(recomputeBound, "one segment") > part(headBound, "output head chunk"));
        assertEquals(recomputeBound.devicePeak(), recomputeBound.parts().stream().mapToLong(MemoryPlan.Part::bytes)
                .sum(), "on CPU, one memory: every predicted byte is a listed part, the weights as read included");
    }

    @Test
    void selectiveCheckpointing_keepsEachLayersAttentionOutput_andDoesNotRemakeIt() {
        // small at 8k in fp32: 8 layers, hidden 512, 8 heads of 64
        ModelConfig small = io.longctx.bench.BenchModels.config("small", 8192);
        PlanInput everyLayer = new PlanInput(small, 8192, 1, 1, Precision.FP32, Offload.NONE, null, List.of("*"),
                false, false, 1, 0);
        MemoryPlan full = MemoryPlanner.plan(everyLayer, Long.MAX_VALUE);
        MemoryPlan selective = MemoryPlanner.plan(everyLayer.selective(), Long.MAX_VALUE);
        long residual = 8192L * 512 * 4;
        long attention = 8192L * (512 * 4 + 8 * 4);                     // output (T, 8 x 64) and log-sum-exp (T, 8)
        assertEquals(8 * residual, part(full, "activations saved by checkpointing"));
        assertEquals(8 * (residual + attention), part(selective, "activations saved by selective"));
        assertEquals(part(full, "one segment") - attention, part(selective, "one segment"));  // not remade
        MemoryPlan off = MemoryPlanner.plan(new PlanInput(small, 8192, 1, 0, Precision.FP32, Offload.NONE, null,
                List.of("*"), false, false, 1, 0), Long.MAX_VALUE);
        assertTrue(full.devicePeak() < selective.devicePeak() && selective.devicePeak() < off.devicePeak(),
                full.devicePeak() + " < " + selective.devicePeak() + " < " + off.devicePeak());
    }

    @Test
    void bf16ActivationsAtMostHalfOfFp32_atEightThousandTokensWithCheckpointing() {
        ModelConfig small = io.longctx.bench.BenchModels.config("small", 8192);
        long[] activations = new long[2];
        for (Precision p : Precision.values()) {
            MemoryPlan plan = MemoryPlanner.plan(new PlanInput(small, 8192, 1, 1, p, Offload.NONE, null,
                    List.of("*"), false, false, 1, 0), Long.MAX_VALUE);
            activations[p.ordinal()] = part(plan, "activations") + part(plan, "one segment");
        }
        double ratio = (double) activations[1] / activations[0];
        assertTrue(ratio <= 0.55, "bf16 / fp32 activations " + ratio);
    }

    @Test
    void lora_trainsOnlyAdaptersAndExtras_overABf16Base() {
        LoraConfig lora = new LoraConfig(8, 16, LoraConfig.DEFAULT_TARGETS, LoraConfig.DEFAULT_EXTRA);
        MemoryPlan plan = MemoryPlanner.plan(llama2(Precision.BF16, Offload.NONE, lora, 65536), 80 * GIB);
        long adapters = 32L * 4 * (8 * 4096 + 4096 * 8);
        long extras = 32000L * 4096 + 65L * 4096;                  // embedding, 2 norms per layer and the final one
        assertEquals(adapters, lora.adapterParameters(LLAMA2));
        assertEquals((adapters + extras) * 8, part(plan, "optimizer moments"));
        assertEquals((LLAMA2.parameterCount() + adapters) * 2, part(plan, "weights"));
        assertTrue(plan.fits(), plan.table());
    }

    @Test
    void planCommand_printsJsonAndTheVerdict(@TempDir Path dir) throws Exception {
        Path recipe = TinyRuns.writeRecipe(dir, 2, "");
        CliRun run = CliRun.of("plan", recipe.toString(), "--json", "--device-memory", "80GiB");
        assertEquals(0, run.exitCode(), run.err());
        Map<?, ?> json = new com.fasterxml.jackson.databind.ObjectMapper().readValue(run.out(), Map.class);
        assertEquals(Boolean.TRUE, json.get("fits"));
        assertTrue(((Number) json.get("device_peak_bytes")).longValue() > 0);
        assertTrue(((Map<?, ?>) json.get("parts")).containsKey("optimizer moments (fp32, 2 per parameter)"));
        CliRun tooSmall = CliRun.of("plan", recipe.toString(), "--device-memory", "64MiB");
        assertEquals(1, tooSmall.exitCode(), tooSmall.err());
        assertTrue(tooSmall.out().contains("does not fit"), tooSmall.out());
    }

    @Test
    void train_refusesARunThatCannotFit_beforePacking() throws Exception {
        Path recipe = TinyRuns.writeRecipe(tmp, 2, "");
        String huge = Files.readString(recipe).replace("hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2",
                "hidden_size: 16384, intermediate_size: 65536, num_hidden_layers: 64");
        Files.writeString(recipe, huge);
        CliRun run = CliRun.of("train", recipe.toString());
        assertEquals(2, run.exitCode(), run.err());
        assertTrue(run.errorLine().contains("will not fit"), run.err());
        assertFalse(Files.exists(tmp.resolve("store")), "nothing was packed");
    }

    @Test
    void shardingOnEightRanks_keepsAnEighthOfTheMoments_andCountsTheShardAndTheBuffers() {
        PlanInput one = llama2(Precision.FP32, Offload.NONE, null, 32768);
        long params = 6_738_415_616L;                                    // Llama-2-7B, every tensor trains
        MemoryPlan single = MemoryPlanner.plan(one, Long.MAX_VALUE);
        MemoryPlan replicated = MemoryPlanner.plan(one.onDevices(8, false), Long.MAX_VALUE);
        MemoryPlan sharded = MemoryPlanner.plan(one.onDevices(8, true), Long.MAX_VALUE);
        assertEquals(params * 8, part(single, "optimizer moments"));
        assertEquals(params * 8, part(replicated, "optimizer moments"));
        long shard = params / 8;                                          // 6,738,415,616 divides by 8
        assertEquals(shard * 8, part(sharded, "optimizer moments"));
        assertEquals(shard * 8, part(sharded, "sharded update"));         // fp32 master and gradient shards
        // fp32 with checkpointing: the replicated buckets go out during backward and add to its peak
        assertEquals(3 * (25L << 20), part(replicated, "gradient buckets in flight"));
        assertEquals(single.devicePeak() + 3 * (25L << 20), replicated.devicePeak());
        // the sharded exchange runs after backward, whose phase is larger: the peak is unchanged by it
        assertEquals(2 * (25L << 20), part(sharded, "communication"));
        assertEquals(single.devicePeak() - params * 8 + shard * 16, sharded.devicePeak());
    }

    @Test
    void shardingBf16AndOffload_keepsOnlyTheMasterAndGradientSumShards_andNoHostGradients() {
        long params = 6_738_415_616L;
        long shard = params / 8;
        PlanInput bf16 = llama2(Precision.BF16, Offload.NONE, null, 32768);
        MemoryPlan whole = MemoryPlanner.plan(bf16.onDevices(8, false), Long.MAX_VALUE);
        MemoryPlan sharded = MemoryPlanner.plan(bf16.onDevices(8, true), Long.MAX_VALUE);
        assertEquals(params * 4, part(whole, "master weights"));
        assertEquals(0, part(sharded, "master weights"));              // each rank: its 1/8 in the sharded update
        assertEquals(shard * 8, part(sharded, "sharded update"));
        assertEquals(0, part(sharded, "gradient sums"));                // each micro-batch reduce-scattered
        // masters, sums and moments, less the shards; the replicated run's buckets go out during backward (+75 MiB)
        assertEquals(params * 4 + params * 4 + params * 8 - shard * 16 + 3 * (25L << 20),
                whole.devicePeak() - sharded.devicePeak());
        PlanInput offload = llama2(Precision.BF16, Offload.HOST, null, 32768);
        MemoryPlan hostWhole = MemoryPlanner.plan(offload.onDevices(8, false), Long.MAX_VALUE);
        MemoryPlan hostSharded = MemoryPlanner.plan(offload.onDevices(8, true), Long.MAX_VALUE);
        assertEquals(params * 4 + params * 4 + params * 8, steadyHost(hostWhole));  // masters, gradients, moments
        assertEquals(shard * 8 + shard * 8, steadyHost(hostSharded));               // moments and update shards
        assertEquals(0, part(hostSharded, "gradients for the update"));
        assertEquals(shard * 4, part(hostSharded, "gradient sum shard"));
    }
}
