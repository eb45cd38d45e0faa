package io.longctx.rope;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The figures of the YaRN paper and HF's modeling_rope_utils collected in the reference note, checked to four
 * significant digits.
 */
class PublishedFiguresTest {

    @ParameterizedTest(name = "{0}: ramp {4}..{5}")
    @CsvSource({
        "Llama-2,     10000,   4096, 128, 20, 46",
        "Mistral-7B,  10000,   8192, 128, 25, 50",
        "Llama-3,     500000,  8192, 128, 18, 35",
        "Qwen2.5,     1000000, 32768, 128, 23, 40"})
    void yarnRampBounds_matchReference(String model, double theta, int original, int dim, double low, double high) {
        YarnScaling yarn = YarnScaling.of(16, original);
        RopeFrequencies f = yarn.frequencies(new RopeGeometry(dim, theta), original * 16);
        assertEquals(low, f.rampLow(), 0.0, model);
        assertEquals(high, f.rampHigh(), 0.0, model);
    }

    @ParameterizedTest(name = "s={0}: mscale {1}")
    @CsvSource({"2, 1.0693", "4, 1.1386", "8, 1.2079", "16, 1.2773", "32, 1.3466", "64, 1.4159"})
    void yarnAttentionFactor_matchesMscaleTable(double factor, double expected) {
        RopeFrequencies f = YarnScaling.of(factor, 4096).frequencies(new RopeGeometry(128, 10000), 4096);
        assertEquals(expected, f.attentionFactor(), 0.5e-4);
    }

    @ParameterizedTest(name = "s={0}: b'={1}")
    @CsvSource({"2, 20221", "4, 40890", "8, 82685", "16, 167199", "32, 338097"})
    void ntkAwareBase_matchesLlama2Figures(double factor, double expected) {
        double base = new NtkAwareScaling(factor).scaledBase(new RopeGeometry(128, 10000));
        assertEquals(expected, base, expected * 0.5e-4);
    }

    @ParameterizedTest(name = "l={0}: b'={1}")
    @CsvSource({"8192, 177820", "32768, 1220000", "65536, 2630000"})
    void dynamicNtkBase_matchesLlama2Figures(int length, double expected) {
        double base = new DynamicNtkScaling(16, 4096).baseAt(new RopeGeometry(128, 10000), length);
        // The note gives 3-4 significant digits (~1.22M, ~2.63M): compare at the precision given.
        double digits = expected >= 1e6 ? 0.005e6 : 0.5e1;
        assertEquals(expected, base, digits);
    }
}
