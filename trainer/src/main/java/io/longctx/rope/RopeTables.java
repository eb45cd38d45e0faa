package io.longctx.rope;

/**
 * cos and sin tables in HF's rotate_half layout: for position p and channel c of the rotary dimension d,
 * angle = p * inv_freq[c mod d/2], and both tables are multiplied by the attention factor. Angles are formed in
 * double so long positions lose no precision; values are stored as fp32.
 */
public record RopeTables(float[] cos, float[] sin, int positions, int rotaryDim) {

    public static RopeTables compute(RopeFrequencies frequencies, int start, int count) {
        int half = frequencies.pairs();
        int d = 2 * half;
        float[] cos = new float[count * d];
        float[] sin = new float[count * d];
        double factor = frequencies.attentionFactor();
        double[] inv = frequencies.invFreq();
        for (int t = 0; t < count; t++) {
            double position = start + t;
            int row = t * d;
            for (int i = 0; i < half; i++) {
                double angle = position * inv[i];
                float c = (float) (Math.cos(angle) * factor);
                float s = (float) (Math.sin(angle) * factor);
                cos[row + i] = c;
                cos[row + half + i] = c;
                sin[row + i] = s;
                sin[row + half + i] = s;
            }
        }
        return new RopeTables(cos, sin, count, d);
    }
}
