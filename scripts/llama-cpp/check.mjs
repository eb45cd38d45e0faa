// Runs llama.cpp on a GGUF file and writes what it computes as JSON, for `longctx verify-export`.
// Usage: node check.mjs REQUEST.json RESULT.json
// REQUEST: {"gguf": path, "vocab_size": V, "ids": [int], "greedy_tokens": n, "threads": n, "probabilities_file": path,
//           "text": optional string to tokenize}
// RESULT:  {"vocab_size": V, "positions": T, "greedy": [int], "tokens": [int] or null}; probabilities_file gets the
//          next-token distribution after each position as T x V little-endian float32.
// The KV cache is F32 and flash attention off: with llama.cpp's defaults (F16 cache) log-probs move by ~2e-2.
import fs from "node:fs";
import {getLlama} from "node-llama-cpp";

const [requestFile, resultFile] = process.argv.slice(2);
if (!requestFile || !resultFile) {
    console.error("usage: node check.mjs REQUEST.json RESULT.json");
    process.exit(2);
}
const request = JSON.parse(fs.readFileSync(requestFile, "utf8"));
const ids = request.ids;
const greedyTokens = request.greedy_tokens ?? 0;
const threads = request.threads ?? 2;

const llama = await getLlama({gpu: false, build: "never", skipDownload: true, logLevel: "error"});
const model = await llama.loadModel({modelPath: request.gguf, gpuLayers: 0});
const vocabSize = request.vocab_size;

async function withSequence(contextSize, work) {
    const context = await model.createContext({
        contextSize, batchSize: contextSize, threads, flashAttention: false,
        experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
    });
    try {
        return await work(context.getSequence());
    } finally {
        await context.dispose();
    }
}

const contextSize = Math.max(ids.length + greedyTokens, 8);
const probabilities = await withSequence(contextSize, async sequence => {
    const results = await sequence.controlledEvaluate(ids.map(id => [id, {
        generateNext: {probabilities: true, options: {temperature: 0}},
    }]));
    const dense = new Float32Array(ids.length * vocabSize);
    results.forEach((result, position) => {
        for (const [token, p] of result.next.probabilities) {
            dense[position * vocabSize + token] = p;
        }
    });
    return dense;
});

// Greedy continuation through llama.cpp's own sampler at temperature 0, token by token, so that an end-of-text
// token does not stop it early (the comparison wants a fixed number of tokens).
let greedy = [];
if (greedyTokens > 0) {
    greedy = await withSequence(contextSize, async sequence => {
        const nextOf = async batch => {
            const results = await sequence.controlledEvaluate(batch.map((id, i) => i < batch.length - 1 ? id
                : [id, {generateNext: {token: true, options: {temperature: 0}}}]));
            return results[results.length - 1].next.token;
        };
        const out = [await nextOf(ids)];
        while (out.length < greedyTokens) {
            out.push(await nextOf([out[out.length - 1]]));
        }
        return out;
    });
}

const tokens = typeof request.text === "string" ? Array.from(model.tokenize(request.text)) : null;
fs.writeFileSync(request.probabilities_file, Buffer.from(probabilities.buffer));
fs.writeFileSync(resultFile, JSON.stringify({vocab_size: vocabSize, positions: ids.length, greedy, tokens}));
await model.dispose();
await llama.dispose();
