package io.longctx.demo;

import io.longctx.eval.PasskeyDepths;
import java.nio.file.Path;
import java.util.List;

/**
 * What the demo runs: stage 1 pretrains a base model at a short context (skipped when its export exists), stage 2
 * extends it with YaRN, then both are evaluated on held-out documents and reported.
 *
 * @param baseDir where stage 1 is exported; stage 2's recipe must name it as model.path
 * @param evalLengths context lengths to evaluate; empty for the original context times 1, 2, 4, ... up to the target
 */
public record DemoPlan(
        Path pretrainRecipe, List<String> pretrainOverrides, Path extendRecipe, List<String> extendOverrides,
        Path baseDir, Path out, List<Path> evalData, List<Integer> evalLengths, int stride, Integer evalMaxTokens,
        PasskeyDepths passkeyDepths, int passkeyTrials, String attention) {

    public DemoPlan {
        pretrainOverrides = List.copyOf(pretrainOverrides);
        extendOverrides = List.copyOf(extendOverrides);
        evalData = List.copyOf(evalData);
        evalLengths = List.copyOf(evalLengths);
    }
}
