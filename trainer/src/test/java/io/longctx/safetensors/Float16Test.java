package io.longctx.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Bit patterns from the IEEE 754 binary16 and bfloat16 definitions. */
class Float16Test {

    @Test
    void halfToFloat_knownPatterns() {
        assertEquals(1.0f, Float16.halfToFloat((short) 0x3c00));
        assertEquals(-2.0f, Float16.halfToFloat((short) 0xc000));
        assertEquals(65504f, Float16.halfToFloat((short) 0x7bff));
        assertEquals(0x1p-24f, Float16.halfToFloat((short) 0x0001));
        assertEquals(0x1p-14f, Float16.halfToFloat((short) 0x0400));
        assertEquals(Float.POSITIVE_INFINITY, Float16.halfToFloat((short) 0x7c00));
        assertTrue(Float.isNaN(Float16.halfToFloat((short) 0x7e00)));
        assertEquals(0.333251953125f, Float16.halfToFloat((short) 0x3555));
    }

    @Test
    void floatToHalf_roundsToNearestEven() {
        assertEquals((short) 0x3c00, Float16.floatToHalf(1.0f));
        assertEquals((short) 0x3555, Float16.floatToHalf(1f / 3));
        assertEquals((short) 0x7c00, Float16.floatToHalf(70000f));
        assertEquals((short) 0x0001, Float16.floatToHalf(0x1p-24f));
        // 1 + 2^-11 is halfway between 1 and the next half; ties go to the even mantissa (1.0)
        assertEquals((short) 0x3c00, Float16.floatToHalf(1f + 0x1p-11f));
        assertEquals((short) 0x3c02, Float16.floatToHalf(1f + 3 * 0x1p-11f));
    }

    @Test
    void bf16_roundTripAndTies() {
        assertEquals(1.0f, Float16.bf16ToFloat((short) 0x3f80));
        assertEquals((short) 0x3f80, Float16.floatToBf16(1.0f));
        // 1 + 2^-8 is a tie between 1 and 1 + 2^-7: even mantissa wins
        assertEquals((short) 0x3f80, Float16.floatToBf16(1f + 0x1p-8f));
        assertEquals((short) 0x3f82, Float16.floatToBf16(1f + 3 * 0x1p-8f));
        assertTrue(Float.isNaN(Float16.bf16ToFloat(Float16.floatToBf16(Float.NaN))));
    }
}
