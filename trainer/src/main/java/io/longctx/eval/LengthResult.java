package io.longctx.eval;

/**
 * Perplexity of one model variant at one context length.
 *
 * @param documents documents long enough to fill a window of this length
 * @param skippedDocuments documents shorter than the window, left out so every score uses the full length
 * @param positionNll mean NLL per position bucket (bucket i covers positions i*bucketWidth .. (i+1)*bucketWidth-1),
 *     from disjoint full windows
 */
public record LengthResult(
        int length, int documents, int skippedDocuments, long tokensScored, double meanNll, int bucketWidth,
        double[] positionNll) {

    public LengthResult {
        positionNll = positionNll.clone();
    }

    @Override
    public double[] positionNll() {
        return positionNll.clone();
    }

    public double perplexity() {
        return tokensScored == 0 ? Double.NaN : Math.exp(meanNll);
    }
}
