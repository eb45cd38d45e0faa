package io.longctx.data.store;

import io.longctx.Hashing;
import io.longctx.LongctxException;
import io.longctx.data.pack.PackedSequence;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Writes the sequences of one split into shard files, each synced and checksummed. */
public final class StoreWriter {
    private final Path dir;
    private final String split;
    private final int seqLen;
    private final int tokenBytes;
    private final int sequencesPerShard;
    private final List<Map<String, Object>> shards = new ArrayList<>();
    private final List<PackedSequence> pending = new ArrayList<>();
    private long sequences;

    public StoreWriter(Path dir, String split, int seqLen, int tokenBytes, int sequencesPerShard) {
        this.dir = dir;
        this.split = split;
        this.seqLen = seqLen;
        this.tokenBytes = tokenBytes;
        this.sequencesPerShard = sequencesPerShard;
    }

    /** Shard size that keeps about 64 MiB of tokens per file. */
    public static int sequencesPerShard(int seqLen, int tokenBytes) {
        return (int) Math.max(1, (64L << 20) / ((long) seqLen * tokenBytes));
    }

    public void accept(PackedSequence sequence) {
        if (sequence.length() != seqLen) {
            throw new IllegalStateException("sequence of " + sequence.length() + " tokens in a " + seqLen
                    + "-token store");
        }
        pending.add(sequence);
        if (pending.size() == sequencesPerShard) {
            writeShard();
        }
    }

    public long sequences() {
        return sequences;
    }

    /** Writes the last shard; returns the split's manifest entry. */
    public Map<String, Object> finish() {
        if (!pending.isEmpty()) {
            writeShard();
        }
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("sequences", sequences);
        entry.put("shards", shards);
        return entry;
    }

    private void writeShard() {
        int count = pending.size();
        long starts = 0;
        for (PackedSequence s : pending) {
            starts += s.docStarts().length;
        }
        long bytes = ShardFormat.fileBytes(count, seqLen, tokenBytes, starts);
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalStateException("shard too large");
        }
        ByteBuffer out = ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
        out.put(ShardFormat.MAGIC).putInt(ShardFormat.VERSION).putInt(seqLen).putInt(tokenBytes).putInt(count)
                .putLong(starts);
        for (PackedSequence s : pending) {
            for (int token : s.tokens()) {
                if (tokenBytes == 2) {
                    out.putShort((short) token);
                } else {
                    out.putInt(token);
                }
            }
        }
        for (PackedSequence s : pending) {
            out.putInt(s.used());
        }
        int pointer = 0;
        out.putInt(pointer);
        for (PackedSequence s : pending) {
            pointer += s.docStarts().length;
            out.putInt(pointer);
        }
        for (PackedSequence s : pending) {
            for (int start : s.docStarts()) {
                out.putInt(start);
            }
        }
        String name = String.format("%s-%05d.bin", split, shards.size());
        Path file = dir.resolve(name);
        byte[] array = out.array();
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                OutputStream stream = Channels.newOutputStream(channel)) {
            stream.write(array);
            stream.flush();
            channel.force(true);
        } catch (IOException e) {
            throw new LongctxException(file + ": cannot write (" + e.getMessage() + ")");
        }
        Map<String, Object> shard = new LinkedHashMap<>();
        shard.put("file", name);
        shard.put("sequences", count);
        shard.put("bytes", array.length);
        shard.put("sha256", Hashing.sha256(array));
        shards.add(shard);
        sequences += count;
        pending.clear();
    }
}
