package io.longctx.data.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.Hashing;
import io.longctx.LongctxException;
import io.longctx.data.pack.PackedSequence;
import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A packed token store opened for reading: the manifest plus memory-mapped shards. A store is complete only when its
 * manifest exists (it is written last, then the folder is renamed into place).
 */
public final class TokenStore {
    public static final String MANIFEST = "manifest.json";
    public static final String TOKENIZER_DIR = "tokenizer";

    private final Path dir;
    private final JsonNode manifest;
    private final int seqLen;
    private final int tokenBytes;
    private final Map<String, Split> splits = new LinkedHashMap<>();

    private TokenStore(Path dir, JsonNode manifest) {
        this.dir = dir;
        this.manifest = manifest;
        this.seqLen = manifest.path("seq_len").asInt();
        this.tokenBytes = manifest.path("token_bytes").asInt();
        manifest.path("splits").fields().forEachRemaining(e -> splits.put(e.getKey(), new Split(e.getKey(),
                e.getValue())));
    }

    /** Opens a complete store; fails with a message naming the folder when it is missing or incomplete. */
    public static TokenStore open(Path dir) {
        Path file = dir.resolve(MANIFEST);
        if (!Files.isRegularFile(file)) {
            throw new LongctxException(dir + ": not a packed store (no " + MANIFEST + "; run `longctx pack`)");
        }
        try {
            return new TokenStore(dir, new ObjectMapper().readTree(file.toFile()));
        } catch (IOException e) {
            throw new LongctxException(file + ": unreadable (" + e.getMessage() + ")");
        }
    }

    /** Reads just the manifest; empty when the folder holds no complete store, an error when it is unreadable. */
    public static Optional<JsonNode> readManifest(Path dir) {
        Path file = dir.resolve(MANIFEST);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        try {
            return Optional.of(new ObjectMapper().readTree(file.toFile()));
        } catch (IOException e) {
            throw new LongctxException(file + ": unreadable (" + e.getMessage() + "); delete the store folder to "
                    + "rebuild it");
        }
    }

    public Path dir() {
        return dir;
    }

    public JsonNode manifest() {
        return manifest;
    }

    public int seqLen() {
        return seqLen;
    }

    /** What the sequences are: a hash of every shard's checksum, so a rebuilt store with other contents differs. */
    public String identity() {
        return Hashing.sha256(manifest.path("splits").toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    public Path tokenizerDir() {
        return dir.resolve(TOKENIZER_DIR);
    }

    public Split split(String name) {
        Split split = splits.get(name);
        if (split == null) {
            throw new LongctxException(dir + ": no split '" + name + "' (has " + splits.keySet() + ")");
        }
        return split;
    }

    public boolean hasSplit(String name) {
        return splits.containsKey(name) && splits.get(name).size() > 0;
    }

    /** Recomputes every shard's checksum against the manifest. */
    public void verify() {
        for (Split split : splits.values()) {
            for (JsonNode shard : manifest.path("splits").path(split.name).path("shards")) {
                Path file = dir.resolve(shard.path("file").asText());
                String actual = Hashing.sha256(file);
                if (!actual.equals(shard.path("sha256").asText())) {
                    throw new LongctxException(file + ": checksum mismatch; the store is corrupt, pack it again");
                }
            }
        }
    }

    /** The sequences of one split, addressed 0 .. size-1 across its shards. */
    public final class Split {
        private final String name;
        private final List<Shard> shards = new ArrayList<>();
        private final long[] firstIndex;
        private final long size;

        Split(String name, JsonNode entry) {
            this.name = name;
            long total = 0;
            List<Long> firsts = new ArrayList<>();
            for (JsonNode shard : entry.path("shards")) {
                firsts.add(total);
                Shard s = new Shard(dir.resolve(shard.path("file").asText()));
                shards.add(s);
                total += s.count;
            }
            this.size = total;
            this.firstIndex = firsts.stream().mapToLong(Long::longValue).toArray();
        }

        public String name() {
            return name;
        }

        public long size() {
            return size;
        }

        public PackedSequence sequence(long index) {
            if (index < 0 || index >= size) {
                throw new IndexOutOfBoundsException("sequence " + index + " of " + size);
            }
            int shard = Arrays.binarySearch(firstIndex, index);
            if (shard < 0) {
                shard = -shard - 2;
            }
            return shards.get(shard).sequence((int) (index - firstIndex[shard]));
        }
    }

    private final class Shard {
        private final Path file;
        private final MappedByteBuffer map;
        private final int count;

        Shard(Path file) {
            this.file = file;
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
                long size = channel.size();
                if (size < ShardFormat.HEADER_BYTES) {
                    throw new LongctxException(file + ": truncated shard");
                }
                map = channel.map(FileChannel.MapMode.READ_ONLY, 0, size);
                map.order(ByteOrder.LITTLE_ENDIAN);
                byte[] magic = new byte[8];
                map.get(0, magic);
                if (!Arrays.equals(magic, ShardFormat.MAGIC) || map.getInt(8) != ShardFormat.VERSION
                        || map.getInt(12) != seqLen || map.getInt(16) != tokenBytes) {
                    throw new LongctxException(file + ": not a shard of this store (bad header)");
                }
                count = map.getInt(20);
                long starts = map.getLong(24);
                if (count < 0 || starts < 0
                        || ShardFormat.fileBytes(count, seqLen, tokenBytes, starts) != size) {
                    throw new LongctxException(file + ": size does not match its header; the store is corrupt");
                }
            } catch (IOException e) {
                throw new LongctxException(file + ": cannot read (" + e.getMessage() + ")");
            }
        }

        PackedSequence sequence(int i) {
            int[] tokens = new int[seqLen];
            long base = ShardFormat.tokensOffset() + (long) i * seqLen * tokenBytes;
            for (int t = 0; t < seqLen; t++) {
                int at = (int) (base + (long) t * tokenBytes);
                tokens[t] = tokenBytes == 2 ? Short.toUnsignedInt(map.getShort(at)) : map.getInt(at);
            }
            int used = map.getInt((int) (ShardFormat.usedOffset(count, seqLen, tokenBytes) + 4L * i));
            int pointers = (int) ShardFormat.pointerOffset(count, seqLen, tokenBytes);
            int from = map.getInt(pointers + 4 * i);
            int to = map.getInt(pointers + 4 * (i + 1));
            int startsAt = (int) ShardFormat.startsOffset(count, seqLen, tokenBytes);
            int[] docStarts = new int[to - from];
            for (int k = 0; k < docStarts.length; k++) {
                docStarts[k] = map.getInt(startsAt + 4 * (from + k));
            }
            return new PackedSequence(tokens, used, docStarts);
        }

        @Override
        public String toString() {
            return file.toString();
        }
    }
}
