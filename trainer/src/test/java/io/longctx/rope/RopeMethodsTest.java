package io.longctx.rope;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.LongctxException;
import org.junit.jupiter.api.Test;

/** Each method against HF modeling_rope_utils semantics, written out independently here. */
class RopeMethodsTest {
    private static final RopeGeometry LLAMA2 = new RopeGeometry(128, 10000);
    private static final RopeGeometry LLAMA3 = new RopeGeometry(128, 500000);

    private static RopeScaling parse(String json) throws Exception {
        JsonNode node = new ObjectMapper().readTree(json);
        return new RopeScalingParser(4096, null).parseStrict(node, "test");
    }

    @Test
    void linear_dividesEveryFrequencyByFactor() {
        RopeFrequencies f = new LinearScaling(4, 4096).frequencies(LLAMA2, 4096);
        for (int i = 0; i < f.pairs(); i++) {
            assertEquals(Math.pow(10000, -2.0 * i / 128) / 4, f.invFreq(i), 1e-7 * f.invFreq(i) + 1e-12);
            assertEquals(RopeFrequencies.Band.INTERPOLATED, f.band(i));
        }
        assertEquals(1.0, f.attentionFactor());
    }

    @Test
    void yarn_keepsHighFrequenciesAndInterpolatesLowOnes() {
        RopeFrequencies f = YarnScaling.of(16, 4096).frequencies(LLAMA2, 65536);
        double[] base = LLAMA2.baseInvFreq();
        for (int i = 0; i < f.pairs(); i++) {
            if (i <= 20) {
                assertEquals(base[i], f.invFreq(i), 0.0, "pair " + i + " below the ramp is extrapolated");
                assertEquals(RopeFrequencies.Band.EXTRAPOLATED, f.band(i));
            } else if (i >= 46) {
                assertEquals(base[i] / 16, f.invFreq(i), 1e-7 * f.invFreq(i), "pair " + i + " is interpolated");
                assertEquals(RopeFrequencies.Band.INTERPOLATED, f.band(i));
            } else {
                double ramp = (i - 20) / 26.0;
                double expected = base[i] / 16 * ramp + base[i] * (1 - ramp);
                assertEquals(expected, f.invFreq(i), 1e-7 * expected, "pair " + i + " on the ramp");
                assertEquals(RopeFrequencies.Band.RAMP, f.band(i));
            }
        }
    }

    @Test
    void yarn_explicitAttentionFactorAndMscaleAllDim() throws Exception {
        RopeScaling explicit = parse("{\"rope_type\":\"yarn\",\"factor\":8,\"attention_factor\":1.5}");
        assertEquals(1.5, explicit.frequencies(LLAMA2, 4096).attentionFactor());
        RopeScaling deepseek = parse("{\"type\":\"yarn\",\"factor\":40,\"mscale\":1.0,\"mscale_all_dim\":1.0}");
        assertEquals(1.0, deepseek.frequencies(LLAMA2, 4096).attentionFactor(), 1e-12);
        RopeScaling mixed = parse("{\"type\":\"yarn\",\"factor\":40,\"mscale\":0.707,\"mscale_all_dim\":1.0}");
        double expected = (0.1 * 0.707 * Math.log(40) + 1) / (0.1 * Math.log(40) + 1);
        assertEquals(expected, mixed.frequencies(LLAMA2, 4096).attentionFactor(), 1e-12);
    }

    @Test
    void yarn_withoutTruncation_usesFractionalBounds() throws Exception {
        RopeScaling yarn = parse("{\"rope_type\":\"yarn\",\"factor\":16,\"truncate\":false}");
        RopeFrequencies f = yarn.frequencies(LLAMA2, 4096);
        double low = 128 * Math.log(4096 / (2 * Math.PI * 32)) / (2 * Math.log(10000));
        double high = 128 * Math.log(4096 / (2 * Math.PI * 1)) / (2 * Math.log(10000));
        assertEquals(low, f.rampLow(), 1e-12);
        assertEquals(high, f.rampHigh(), 1e-12);
    }

    @Test
    void dynamicYarn_followsSequenceLength() throws Exception {
        RopeScaling dyn = parse("{\"rope_type\":\"dynamic_yarn\",\"factor\":16}");
        assertTrue(dyn.dependsOnLength());
        assertArrayEquals(LLAMA2.baseInvFreq(), dyn.frequencies(LLAMA2, 2048).invFreq(), 0.0);
        RopeFrequencies at4x = dyn.frequencies(LLAMA2, 4 * 4096);
        RopeFrequencies yarn4 = YarnScaling.of(4, 4096).frequencies(LLAMA2, 4 * 4096);
        assertArrayEquals(yarn4.invFreq(), at4x.invFreq(), 0.0);
        assertEquals(yarn4.attentionFactor(), at4x.attentionFactor(), 0.0);
    }

    @Test
    void dynamicNtk_isPlainRopeUpToTheOriginalContext() {
        DynamicNtkScaling dyn = new DynamicNtkScaling(4, 4096);
        assertArrayEquals(LLAMA2.baseInvFreq(), dyn.frequencies(LLAMA2, 4096).invFreq(), 0.0);
        double base = dyn.baseAt(LLAMA2, 8192);
        assertEquals(10000 * Math.pow(4.0 * 8192 / 4096 - 3, 128.0 / 126), base, 1e-6);
        assertEquals(Math.pow(base, -2.0 / 128), dyn.frequencies(LLAMA2, 8192).invFreq(1), 1e-7);
    }

    @Test
    void llama3_matchesHfFormulaForLlama31() {
        double factor = 8;
        double low = 1;
        double high = 4;
        int original = 8192;
        RopeFrequencies f = new Llama3Scaling(factor, low, high, original).frequencies(LLAMA3, 131072);
        double[] base = LLAMA3.baseInvFreq();
        for (int i = 0; i < base.length; i++) {
            double wavelen = 2 * Math.PI / base[i];
            double expected;
            if (wavelen < original / high) {
                expected = base[i];
            } else if (wavelen > original / low) {
                expected = base[i] / factor;
            } else {
                double smooth = (original / wavelen - low) / (high - low);
                expected = (1 - smooth) * base[i] / factor + smooth * base[i];
            }
            assertEquals(expected, f.invFreq(i), 1e-7 * expected, "pair " + i);
        }
        assertEquals(1.0, f.attentionFactor());
    }

    @Test
    void longRope_switchesFactorSetsAtTheOriginalContext() throws Exception {
        StringBuilder shortF = new StringBuilder();
        StringBuilder longF = new StringBuilder();
        for (int i = 0; i < 64; i++) {
            shortF.append(i == 0 ? "" : ",").append(1.0 + i * 0.01);
            longF.append(i == 0 ? "" : ",").append(1.0 + i * 0.5);
        }
        JsonNode node = new ObjectMapper().readTree("{\"rope_type\":\"longrope\",\"short_factor\":[" + shortF
                + "],\"long_factor\":[" + longF + "]}");
        RopeScaling scaling = new RopeScalingParser(131072, 4096).parseStrict(node, "test");
        RopeFrequencies shortFreq = scaling.frequencies(LLAMA2, 4096);
        RopeFrequencies longFreq = scaling.frequencies(LLAMA2, 4097);
        double expectShort = 1.0 / ((1.0 + 10 * 0.01) * Math.pow(10000, 20.0 / 128));
        double expectLong = 1.0 / ((1.0 + 10 * 0.5) * Math.pow(10000, 20.0 / 128));
        // inv_freq is stored in fp32, as HF's buffer is
        assertEquals(expectShort, shortFreq.invFreq(10), 1e-7 * expectShort);
        assertEquals(expectLong, longFreq.invFreq(10), 1e-7 * expectLong);
        // Phi-3-mini-128k: s = 131072/4096 = 32, factor sqrt(1 + ln 32 / ln 4096) = 1.19024
        assertEquals(1.19024, longFreq.attentionFactor(), 1e-5);
    }

    @Test
    void parser_acceptsLegacyTypeAndV5Names() throws Exception {
        assertInstanceOf(LinearScaling.class, parse("{\"type\":\"linear\",\"factor\":2}"));
        assertInstanceOf(NoScaling.class, parse("{\"rope_type\":\"default\",\"rope_theta\":10000}"));
        assertInstanceOf(NoScaling.class, new RopeScalingParser(4096, null).parseStrict(null, "t"));
        YarnScaling yarn = (YarnScaling) parse("{\"rope_type\":\"yarn\",\"factor\":4,"
                + "\"original_max_position_embeddings\":2048,\"beta_fast\":16,\"beta_slow\":2}");
        assertEquals(2048, yarn.originalContext());
        assertEquals(16, yarn.betaFast());
        assertEquals(2, yarn.betaSlow());
    }

    @Test
    void parser_rejectsBadValuesNamingTheKey() {
        LongctxException small = assertThrows(LongctxException.class,
                () -> parse("{\"rope_type\":\"yarn\",\"factor\":0.5}"));
        assertTrue(small.getMessage().contains("test: factor:"), small.getMessage());
        LongctxException unknown = assertThrows(LongctxException.class,
                () -> parse("{\"rope_type\":\"magic\",\"factor\":2}"));
        assertTrue(unknown.getMessage().contains("unknown method 'magic'"), unknown.getMessage());
        LongctxException type = assertThrows(LongctxException.class,
                () -> parse("{\"rope_type\":\"linear\",\"factor\":\"two\"}"));
        assertTrue(type.getMessage().contains("factor: must be"), type.getMessage());
        LongctxException llama3 = assertThrows(LongctxException.class,
                () -> parse("{\"rope_type\":\"llama3\",\"factor\":8}"));
        assertTrue(llama3.getMessage().contains("is required"), llama3.getMessage());
    }

    @Test
    void ropeTables_useRotateHalfLayoutAndAttentionFactor() {
        RopeFrequencies f = YarnScaling.of(4, 16).frequencies(new RopeGeometry(4, 10000), 64);
        RopeTables tables = RopeTables.compute(f, 3, 2);
        double m = f.attentionFactor();
        for (int t = 0; t < 2; t++) {
            for (int i = 0; i < 2; i++) {
                double angle = (3 + t) * f.invFreq(i);
                assertEquals(Math.cos(angle) * m, tables.cos()[t * 4 + i], 1e-6);
                assertEquals(Math.cos(angle) * m, tables.cos()[t * 4 + 2 + i], 1e-6);
                assertEquals(Math.sin(angle) * m, tables.sin()[t * 4 + i], 1e-6);
                assertEquals(Math.sin(angle) * m, tables.sin()[t * 4 + 2 + i], 1e-6);
            }
        }
    }
}
