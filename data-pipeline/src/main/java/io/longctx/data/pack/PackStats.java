package io.longctx.data.pack;

import java.util.LinkedHashMap;
import java.util.Map;

/** Token accounting of a packed split: every token in is either packed, or dropped in the tail, and counted. */
public final class PackStats {
    long documentsKept;
    long documentsShort;
    long tokensIn;
    long framingTokens;
    long tokensPacked;
    long paddingTokens;
    long droppedTail;
    long overlapTokens;
    long sequences;

    public void skippedShort() {
        documentsShort++;
    }

    public long documentsKept() {
        return documentsKept;
    }

    public long tokensIn() {
        return tokensIn;
    }

    public long framingTokens() {
        return framingTokens;
    }

    public long tokensPacked() {
        return tokensPacked;
    }

    public long paddingTokens() {
        return paddingTokens;
    }

    public long droppedTail() {
        return droppedTail;
    }

    public long overlapTokens() {
        return overlapTokens;
    }

    public long sequences() {
        return sequences;
    }

    public Map<String, Object> toMap() {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("documents_kept", documentsKept);
        map.put("skipped_short", documentsShort);
        map.put("tokens_in", tokensIn);
        map.put("separator_tokens", framingTokens);
        map.put("tokens_packed", tokensPacked);
        map.put("padding_tokens", paddingTokens);
        long slots = tokensPacked + paddingTokens;
        map.put("padding_fraction", slots == 0 ? 0.0 : (double) paddingTokens / slots);
        map.put("dropped_tail_tokens", droppedTail);
        map.put("overlap_tokens", overlapTokens);
        map.put("sequences", sequences);
        return map;
    }
}
