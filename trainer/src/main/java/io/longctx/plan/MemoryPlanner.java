package io.longctx.plan;

import io.longctx.engine.Precision;
import io.longctx.model.ChunkedNll;
import io.longctx.model.ModelConfig;
import io.longctx.plan.MemoryPlan.Part;
import io.longctx.plan.MemoryPlan.Where;
import io.longctx.precision.Offload;
import io.longctx.train.Parameters;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Predicts a training run's peak memory from the tensors the trainer keeps, counted one by one: weights in their
 * roles (compute copies, fp32 masters, gradients, gradient sums, AdamW moments, on the device or the host), what
 * autograd saves per token and layer in {@code LlamaModel.decoderLayer}, the inputs activation checkpointing keeps,
 * the larger of backward's two phases (the chunked output head, or one segment's recompute with one layer's backward
 * and the attention kernel's workspace), and a measured runtime base. Pure arithmetic; no I/O.
 */
public final class MemoryPlanner {
    /**
     * Resident memory of a training process on CPU apart from model tensors and activations (JVM, DJL, libtorch, our
     * TorchScript modules): the peak of bench on the tiny model at 128 tokens, where those are under 5 MiB, was
     * 256-269 MiB on this project's 2-core reference machine (glibc malloc).
     */
    static final long CPU_RUNTIME_BYTES = 260L << 20;
    /**
     * A CUDA process's base: the context, cuBLAS and SDPA workspaces, and the caching allocator's slack. An estimate
     * from PyTorch's documented behaviour, not yet measured by this project on a GPU.
     */
    static final long GPU_RUNTIME_BYTES = 2L << 30;
    private static final int FP32 = 4;

    private MemoryPlanner() {
    }

    public static MemoryPlan plan(PlanInput in, long deviceMemory) {
        ModelConfig m = in.model();
        int e = in.precision().bytes();
        Map<String, long[]> shapes = m.expectedTensors();
        long all = count(shapes, shapes.keySet());
        long adapters = in.lora() == null ? 0 : in.lora().adapterParameters(m);
        Set<String> fullyTrained = in.lora() == null ? Parameters.matching(shapes.keySet(), in.trainable())
                : Parameters.matching(shapes.keySet(), in.lora().extraTrainable());
        long trained = count(shapes, fullyTrained) + adapters;
        boolean separateMasters = in.precision() != Precision.FP32 || in.offload() == Offload.HOST;
        Where masters = in.offload() == Offload.HOST ? Where.HOST : Where.DEVICE;
        boolean sharded = in.shardOptimizer() && in.devices() > 1;
        List<Part> parts = new ArrayList<>();
        parts.add(new Part("weights (" + in.precision().recipeName() + ", compute copy)", (all + adapters) * e,
                Where.DEVICE));
        if (separateMasters && !sharded) {             // sharded: only the rank's master shard, counted below
            parts.add(new Part("master weights (fp32, trainable)", trained * FP32, masters));
        }
        parts.add(new Part("gradients (" + in.precision().recipeName() + ")", trained * e, Where.DEVICE));
        long shard = (trained + in.devices() - 1) / in.devices();           // elements each rank owns
        if (in.precision() != Precision.FP32 && !sharded) {
            parts.add(new Part("gradient sums (fp32)", trained * FP32, Where.DEVICE));
        } else if (in.precision() != Precision.FP32 && in.offload() == Offload.HOST) {
            // sharded: each micro-batch is reduce-scattered into the rank's fp32 sum shard on the device, which
            // crosses to the host for the update (without offload it is the update's gradient shard itself)
            parts.add(new Part("gradient sum shard (fp32, on the device until the update)", shard * FP32,
                    Where.DEVICE));
        }
        if (in.offload() == Offload.HOST && !sharded) {  // sharded: the reduced gradient shard crosses instead
            parts.add(new Part("gradients for the update (fp32)", trained * FP32, Where.HOST));
        }
        if (sharded) {
            parts.add(new Part("optimizer moments (fp32, 2 per parameter, 1/" + in.devices() + " shard)",
                    shard * 2 * FP32, masters));
            // the rank's fp32 master shard the update runs on, and its summed gradients between reduce and update
            parts.add(new Part("sharded update (fp32 master and gradient shard)", shard * 2 * FP32, masters));
        } else {
            parts.add(new Part("optimizer moments (fp32, 2 per parameter)", trained * 2 * FP32, masters));
        }
        if (in.devices() > 1) {
            // at the end of the step, after backward freed its memory: up to three flattened buckets in flight, or
            // one reduce-scatter window (N x bucket / N) and its result
            long buckets = Math.min(sharded ? 2 * in.bucketBytes() : 3 * in.bucketBytes(), 3 * trained * FP32);
            // replicated under checkpointing: buckets go out during backward, beside its larger phase
            boolean duringBackward = !sharded && in.checkpointLayers() > 0;
            parts.add(new Part(duringBackward ? "gradient buckets in flight (" + in.devices() + " ranks, during "
                    + "backward)" : "communication buffers (" + in.devices() + " ranks, after backward)", buckets,
                    Where.DEVICE));
        }

        long tokens = (long) in.microBatch() * in.seqLen();
        long h = m.hiddenSize();
        long q = (long) m.numHeads() * m.headDim();
        long inter = m.intermediateSize();
        long perLayerToken = savedPerLayerToken(in, h, q, inter, e);
        int layers = m.numLayers();
        long residual = tokens * h * e;
        int k = Math.min(in.checkpointLayers(), layers);
        if (k == 0) {
            parts.add(new Part("activations saved by autograd (all layers)", layers * perLayerToken * tokens,
                    Where.DEVICE));
        } else {
            int kept = Math.min(in.keepLast(), layers - 1);
            int segments = (layers - kept + k - 1) / k;
            if (in.saveAttention()) {
                // each layer's input, its attention output and the kernel's fp32 log-sum-exp per head
                parts.add(new Part("activations saved by selective checkpointing (" + segments + " layers' inputs "
                        + "and attention outputs)", segments * (residual + savedAttentionPerToken(in, e) * tokens),
                        Where.DEVICE));
            } else {
                parts.add(new Part("activations saved by checkpointing (" + segments + " segment inputs)",
                        segments * residual, Where.DEVICE));
            }
            if (kept > 0) {
                // held from the forward until their backward, which runs first (an upper bound for later phases)
                parts.add(new Part("activations of the last " + kept + " layer(s), kept (keep_last)",
                        kept * perLayerToken * tokens + residual, Where.DEVICE));
            }
        }
        // backward of one layer: the gradients flowing through it, of the residual stream and the MLP intermediates
        long layerBackward = tokens * 2 * (h + inter) * e;
        long attention = in.plainAttention()
                ? (long) in.microBatch() * m.numHeads() * in.seqLen() * (long) in.seqLen() * 3 * FP32
                : tokens * q * 2 * FP32;                                          // flash kernel's fp32 accumulators
        long recompute = k == 0 ? 0
                : k * heldPerLayerToken(in, h, q, (long) m.numKvHeads() * m.headDim(), inter, e) * tokens;
        if (in.saveAttention() && k > 0) {
            recompute -= savedAttentionPerToken(in, e) * tokens;                // kept from the forward, not remade
        }
        // under checkpointing the upstream gradient and the segment's input leaf live beside the recompute
        long layerPhase = recompute + layerBackward + attention + (k == 0 ? 0 : 2 * residual);
        long chunk = (long) in.microBatch() * Math.min(in.seqLen(), ChunkedNll.CHUNK);
        // logits, their fp32 log-softmax (saved), and in backward the fp32 gradient and the logits' gradient
        // a trained head weight gets each chunk's (V, H) gradient as a new tensor before it is added into .grad
        boolean headTrained = fullyTrained.contains(m.tieWordEmbeddings() ? "model.embed_tokens.weight"
                : "lm_head.weight");
        long head = chunk * m.vocabSize() * (2L * e + 2 * FP32 + (e == FP32 ? 0 : FP32))
                + 2 * residual                                                    // the head's input leaf, its gradient
                + (headTrained ? m.vocabSize() * h * e : 0);
        // backward runs the head (in its own scope, freed after) before any layer: the two phases never coexist
        if (head >= layerPhase) {
            parts.add(new Part("output head chunk (" + chunk + " positions; the larger backward phase)", head,
                    Where.DEVICE));
        } else {
            if (k > 0) {
                parts.add(new Part("one segment's recompute (" + k + " layer(s))", recompute, Where.DEVICE));
            }
            parts.add(new Part("one layer's backward and attention workspace", layerPhase - recompute,
                    Where.DEVICE));
        }
        parts.add(new Part(in.gpu() ? "CUDA runtime (context, workspaces, allocator)"
                : "runtime (JVM, libtorch)", in.gpu() ? GPU_RUNTIME_BYTES : CPU_RUNTIME_BYTES, Where.DEVICE));
        long loading = all * FP32;        // the fp32 weights as read, before each is placed in its role
        parts.add(new Part("loading (fp32 weights as read, transient)", loading, Where.HOST));
        long passkey = 0;
        if (in.passkeyLength() > 0) {
            // between steps, with the step's activations freed: the prompt's KV cache over every layer, and one
            // layer's forward temporaries over the prompt (q, k, v, attention output, gate, up, their product)
            long l = in.passkeyLength();
            long kv = (long) m.numKvHeads() * m.headDim();
            passkey = 2L * layers * l * kv * e + l * (2 * h + q + 2 * kv + 3 * inter) * e + l * q * 2 * FP32;
            parts.add(new Part("passkey evaluation (" + l + "-token KV cache + one layer; between steps)", passkey,
                    Where.DEVICE));
        }

        long device = 0;
        long host = 0;
        for (Part p : parts) {
            if (p.name().startsWith("loading") || p.name().startsWith("passkey")
                    || p.name().startsWith("communication")) {
                continue;
            }
            if (p.where() == Where.DEVICE) {
                device += p.bytes();
            } else {
                host += p.bytes();
            }
        }
        long persistent = device - transientSum(parts);
        // the evaluation replaces the step's transient memory between steps, it does not add to it
        device = Math.max(device, persistent + passkey);
        // so do the collectives at the end of the step
        device = Math.max(device, persistent + part(parts, "communication"));
        host = Math.max(host, loading);
        if (!in.gpu()) {
            // one memory: the host parts add to the device's, and loading overlaps only the weights' placement
            device = Math.max(device + host, persistent + loading);
            host = device;
        }
        boolean fits = device <= deviceMemory;
        return new MemoryPlan(parts, device, host, deviceMemory, fits, fits ? List.of()
                : advice(in, parts, device, deviceMemory, trained, all));
    }

    private static long part(List<Part> parts, String prefix) {
        return parts.stream().filter(p -> p.name().startsWith(prefix)).mapToLong(Part::bytes).sum();
    }

    private static long transientSum(List<Part> parts) {
        long sum = 0;
        for (Part p : parts) {
            if (p.name().startsWith("activations") || p.name().startsWith("one ") || p.name().startsWith("output")) {
                sum += p.bytes();
            }
        }
        return sum;
    }

    /**
     * Bytes autograd keeps per token for one decoder layer, following decoderLayer: the layer input and each RMSNorm's
     * normalised value, output and fp32 statistic, q and k after RoPE and v (the
     * kernel saves key/value heads repeated to the query heads), the attention output and its merged copy, the
     * residual, and four MLP intermediates (gate input, the SiLU, up, their product); LoRA adds each
     * adapter's rank-sized middle and drops the inputs of frozen projections without an adapter.
     */
    static long savedPerLayerToken(PlanInput in, long h, long q, long inter, int e) {
        long elements = 6 * h + 5 * q + 4 * inter;
        if (in.lora() != null) {
            elements += (long) in.lora().targets().size() * in.lora().rank();
            // a frozen projection needs only its weight in backward, so its input is saved only where an adapter
            // (whose A needs it) sits on it: the q/k/v input, o_proj's, gate/up's, down_proj's
            List<String> t = in.lora().targets();
            if (!t.contains("q_proj") && !t.contains("k_proj") && !t.contains("v_proj")) {
                elements -= h;
            }
            if (!t.contains("o_proj")) {
                elements -= q;
            }
            if (!t.contains("gate_proj") && !t.contains("up_proj")) {
                elements -= h;
            }
            if (!t.contains("down_proj")) {
                elements -= inter;
            }
        }
        long bytes = elements * e + (long) in.model().numHeads() * FP32;   // the kernel's log-sum-exp per head
        return bytes + 2 * FP32;                                            // each norm's fp32 statistic
    }

    /** Bytes per token selective checkpointing keeps of one layer's attention: its output and log-sum-exp. */
    static long savedAttentionPerToken(PlanInput in, int e) {
        return (long) in.model().numHeads() * in.model().headDim() * e + (long) in.model().numHeads() * FP32;
    }

    /**
     * Bytes per token that one layer's forward creates and that stay alive until its segment's backward ends (the
     * segment's scope holds every intermediate, not only what autograd saves): each norm's output and normalised
     * value, the q/k/v projections and their RoPE'd copies, key/value heads repeated for the kernel (grouped-query
     * attention only), the attention output and its merged copy, the output projection, residual, MLP output, the
     * four MLP intermediates (gate input, up, the SiLU autograd saves, the product), and each LoRA adapter's
     * intermediates.
     */
    static long heldPerLayerToken(PlanInput in, long h, long q, long kv, long inter, int e) {
        // the kernel's repeated key/value heads exist only under grouped-query attention
        long repeated = kv < q ? 2 * q : 0;
        long elements = 8 * h + 4 * q + repeated + 3 * kv + 4 * inter;
        if (in.lora() != null) {
            // per adapted projection: x A^T (rank), its product with B^T, that scaled, and the sum with the base
            Map<String, Long> outputs = Map.of("q_proj", q, "k_proj", kv, "v_proj", kv, "o_proj", h,
                    "gate_proj", inter, "up_proj", inter, "down_proj", h);
            for (String target : in.lora().targets()) {
                elements += in.lora().rank() + 3 * outputs.get(target);
            }
        }
        return elements * e + (long) in.model().numHeads() * FP32 + 2 * FP32;
    }

    private static List<String> advice(PlanInput in, List<Part> parts, long device, long memory, long trained,
            long all) {
        List<String> advice = new ArrayList<>();
        if (in.checkpointLayers() == 0) {
            advice.add("turn on activation_checkpointing: every_layer");
        }
        if (in.precision() == Precision.FP32 && in.gpu()) {
            advice.add("precision: bf16 (halves weights and activations)");
        }
        if (in.offload() == Offload.NONE && in.gpu()) {
            advice.add(String.format(java.util.Locale.ROOT, "optimizer: {offload: host} (moves %s of fp32 masters "
                    + "and moments to host memory)", MemoryPlan.gib(trained * 3 * FP32)));
        }
        if (in.lora() == null && trained > all / 10) {
            advice.add("train LoRA adapters (lora: {rank: 8, alpha: 16}) instead of all weights");
        }
        if (in.microBatch() > 1) {
            advice.add("lower train.micro_batch and raise train.grad_accum");
        }
        if (!in.shardOptimizer() || in.devices() == 1) {
            advice.add("more devices with optimizer: {shard: true} (each holds 1/N of the moments)");
        }
        advice.add(String.format(java.util.Locale.ROOT, "needs %s, the device has %s", MemoryPlan.gib(device),
                MemoryPlan.gib(memory)));
        return advice;
    }

    private static long count(Map<String, long[]> shapes, Set<String> names) {
        long n = 0;
        for (String name : names) {
            long size = 1;
            for (long d : shapes.get(name)) {
                size *= d;
            }
            n += size;
        }
        return n;
    }
}
