package io.longctx.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longctx.recipe.RecipeNode;
import io.longctx.testing.TinyRuns;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The resolved recipe is written by the sections themselves: read back, it parses to the same recipe, for every
 * scaling method (the hand-made writer this replaced lost keys of ntk and dynamic_yarn).
 */
class RecipeRoundTripTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {
        "",
        "rope_scaling: {rope_type: yarn, factor: 2, original_max_position_embeddings: 64, beta_fast: 16, "
                + "beta_slow: 2, attention_factor: 1.1, truncate: false}",
        "rope_scaling: {rope_type: ntk, factor: 2}",
        "rope_scaling: {rope_type: linear, factor: 2}",
        "rope_scaling: {rope_type: dynamic, factor: 2, original_max_position_embeddings: 64}",
        "rope_scaling: {rope_type: llama3, factor: 2, low_freq_factor: 1, high_freq_factor: 4, "
                + "original_max_position_embeddings: 64}",
        "rope_scaling: {rope_type: longrope, factor: 2, short_factor: [1, 1, 1, 1], long_factor: [1, 2, 3, 4], "
                + "original_max_position_embeddings: 64}"})
    void resolvedRecipe_parsesBackToTheSameRecipe(String extra) throws Exception {
        Path file = TinyRuns.writeRecipe(tmp, 4, extra + "\nactivation_checkpointing: {every: 2, keep_last: 1}");
        if (!extra.isEmpty()) {
            Files.writeString(file, Files.readString(file).replace("seq_len: 64", "seq_len: 128"));
        }
        Recipe recipe = Recipe.load(file, List.of());
        String resolved = ResolvedRecipe.yaml(recipe);
        Path again = tmp.resolve("again.yaml");
        Files.writeString(again, resolved);
        Recipe reread = Recipe.parse(RecipeNode.load(again), again, tmp);
        assertEquals(recipe.toMap(), reread.toMap(), resolved);
        assertTrue(RecipeChanges.between(recipe.toMap(), reread.toMap()).all().isEmpty());
        if (!extra.isEmpty()) {
            assertEquals(recipe.ropeScaling().toMap(), reread.ropeScaling().toMap());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"selective", "{policy: selective, save: [attention], keep_last: 1}", "every_layer",
        "{every: 2}", "off"})
    void checkpointingPolicies_surviveTheResolvedRecipe(String policy) throws Exception {
        Path file = TinyRuns.writeRecipe(tmp, 4, "activation_checkpointing: " + policy);
        Recipe recipe = Recipe.load(file, List.of());
        Path again = tmp.resolve("again.yaml");
        Files.writeString(again, ResolvedRecipe.yaml(recipe));
        Recipe reread = Recipe.parse(RecipeNode.load(again), again, tmp);
        assertEquals(recipe.run(), reread.run());
        assertEquals(policy.contains("selective"), reread.run().saveAttention());
        assertEquals(policy.contains("keep_last: 1") ? 1 : 0, reread.run().keepLast());
    }

    @Test
    void dynamicYarn_keepsItsMethodInTheResolvedForm() {
        Map<String, Object> map = new io.longctx.rope.YarnScaling(2, 32, 32, 1, null, null, null, true, true).toMap();
        assertEquals("dynamic_yarn", map.get("rope_type"));
    }
}
