package io.longctx.safetensors;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.longctx.Closing;
import io.longctx.LongctxException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A memory-mapped safetensors file. The header is bounds-checked completely on open (header length, dtypes, shapes,
 * offsets inside the data section, no overlaps), so a truncated or hostile file is refused with a message naming the
 * file and tensor before any tensor is read.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** The format's own limit on header size. */
    static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;
    private static final long MAP_CHUNK = 1L << 30;

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, TensorEntry> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, FileChannel channel, long dataStart, Map<String, TensorEntry> tensors,
            Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    public static SafetensorsFile open(Path path) {
        if (!Files.isRegularFile(path)) {
            throw new LongctxException(path + ": not found");
        }
        FileChannel channel = null;
        try {
            channel = FileChannel.open(path, StandardOpenOption.READ);
            long size = channel.size();
            if (size < 8) {
                throw fail(path, "truncated: " + size + " bytes, but a safetensors file starts with an 8-byte "
                        + "header length");
            }
            ByteBuffer lengthBytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(channel, lengthBytes, 0);
            long headerLength = lengthBytes.getLong(0);
            if (headerLength < 2 || headerLength > MAX_HEADER_BYTES) {
                throw fail(path, "header length " + Long.toUnsignedString(headerLength) + " is not plausible "
                        + "(expected 2.." + MAX_HEADER_BYTES + " bytes); the file is corrupt or not safetensors");
            }
            if (8 + headerLength > size) {
                throw fail(path, "header length " + headerLength + " runs beyond the end of the file (" + size
                        + " bytes); the file is truncated or not safetensors");
            }
            ByteBuffer header = ByteBuffer.allocate((int) headerLength);
            readFully(channel, header, 8);
            long dataStart = 8 + headerLength;
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, TensorEntry> tensors = parseHeader(path, header.array(), size - dataStart, metadata);
            return new SafetensorsFile(path, channel, dataStart, tensors, metadata);
        } catch (IOException e) {
            Closing.quietly(channel);
            throw new LongctxException(path + ": cannot read (" + e.getMessage() + ")");
        } catch (RuntimeException e) {
            Closing.quietly(channel);
            throw e;
        }
    }

    private static Map<String, TensorEntry> parseHeader(Path path, byte[] header, long dataSize,
            Map<String, String> metadata) {
        JsonNode root;
        try {
            // duplicate names are refused, as the reference implementation does (else the last one would win)
            root = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
                    .readTree(new String(header, StandardCharsets.UTF_8).trim());
        } catch (JsonProcessingException e) {
            throw fail(path, "header is not valid JSON (" + e.getOriginalMessage() + ")");
        }
        if (root == null || !root.isObject()) {
            throw fail(path, "header must be a JSON object");
        }
        List<TensorEntry> entries = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            if (field.getKey().equals("__metadata__")) {
                field.getValue().fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            entries.add(parseEntry(path, field.getKey(), field.getValue(), dataSize));
        }
        entries.sort(Comparator.comparingLong(TensorEntry::begin).thenComparingLong(TensorEntry::end));
        // the data section is the tensors back to back from 0 to its end: a gap, an overlap or trailing bytes mean
        // the header length or an offset is off (a shifted tensor would load as garbage)
        long expectedBegin = 0;
        Map<String, TensorEntry> byName = new LinkedHashMap<>();
        for (TensorEntry entry : entries) {
            if (entry.begin() != expectedBegin) {
                throw fail(path, "tensor '" + entry.name() + "' starts at byte " + entry.begin() + " of the data "
                        + "section, expected " + expectedBegin + " (tensors must be contiguous without gaps or "
                        + "overlaps)");
            }
            byName.put(entry.name(), entry);
            expectedBegin = entry.end();
        }
        if (expectedBegin != dataSize) {
            throw fail(path, "the tensors end at byte " + expectedBegin + " of the data section, but it holds "
                    + dataSize + " bytes (the header length or the offsets are wrong)");
        }
        return Collections.unmodifiableMap(byName);
    }

    private static TensorEntry parseEntry(Path path, String name, JsonNode node, long dataSize) {
        String where = "tensor '" + name + "'";
        if (!node.isObject()) {
            throw fail(path, where + ": header entry must be an object");
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw fail(path, where + ": dtype missing");
        }
        DType dtype = DType.parse(dtypeNode.textValue());
        if (dtype == null) {
            throw fail(path, where + ": unknown dtype '" + dtypeNode.textValue() + "'");
        }
        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null || !shapeNode.isArray()) {
            throw fail(path, where + ": shape missing");
        }
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.longValue() < 0) {
                throw fail(path, where + ": shape entries must be non-negative integers, got " + shapeNode);
            }
            shape[i] = d.longValue();
        }
        JsonNode offsets = node.get("data_offsets");
        if (offsets == null || !offsets.isArray() || offsets.size() != 2
                || !offsets.get(0).canConvertToLong() || !offsets.get(1).canConvertToLong()
                || !offsets.get(0).isIntegralNumber() || !offsets.get(1).isIntegralNumber()) {
            throw fail(path, where + ": data_offsets must be two integers");
        }
        long begin = offsets.get(0).longValue();
        long end = offsets.get(1).longValue();
        if (begin < 0 || end < begin) {
            throw fail(path, where + ": data_offsets [" + begin + ", " + end + "] are out of order");
        }
        if (end > dataSize) {
            throw fail(path, where + ": data_offsets [" + begin + ", " + end + "] run beyond the data section ("
                    + dataSize + " bytes); the file is truncated");
        }
        TensorEntry entry = new TensorEntry(name, dtype, shape, begin, end);
        long expected;
        try {
            expected = Math.multiplyExact(entry.elementCount(), (long) dtype.bytes());
        } catch (ArithmeticException e) {
            throw fail(path, where + ": shape " + shapeNode + " is too large");
        }
        if (expected != entry.byteLength()) {
            throw fail(path, where + ": data_offsets hold " + entry.byteLength() + " bytes but shape " + shapeNode
                    + " in " + dtype + " needs " + expected);
        }
        return entry;
    }

    public Path path() {
        return path;
    }

    public Map<String, TensorEntry> tensors() {
        return tensors;
    }

    public Map<String, String> metadata() {
        return Collections.unmodifiableMap(metadata);
    }

    public TensorEntry entry(String name) {
        TensorEntry entry = tensors.get(name);
        if (entry == null) {
            throw fail(path, "tensor '" + name + "' not found");
        }
        return entry;
    }

    /**
     * The tensor as fp32 in a direct little-endian buffer: F32 is copied out of the mapping, F16 and BF16 are
     * widened. Throws for other dtypes, and for tensors above 2 GiB in fp32 (read those with {@link #readRowsAsF32}).
     */
    public ByteBuffer readAsF32(String name) {
        return readRowsAsF32(name, 0, rows(entry(name)));
    }

    /** The number of rows (first dimension; 1 for a scalar) of a tensor. */
    public static long rows(TensorEntry entry) {
        return entry.shape().length == 0 ? 1 : entry.shape()[0];
    }

    /** Rows [fromRow, toRow) of a tensor (along its first dimension) as fp32, each slice at most 2 GiB. */
    public ByteBuffer readRowsAsF32(String name, long fromRow, long toRow) {
        TensorEntry entry = entry(name);
        if (!entry.dtype().loadable()) {
            throw fail(path, "tensor '" + name + "' has unsupported dtype " + entry.dtype()
                    + " (longctx loads F32, F16 and BF16)");
        }
        long rowElements = entry.elementCount() / Math.max(1, rows(entry));
        long outBytes = (toRow - fromRow) * rowElements * 4;
        if (fromRow < 0 || toRow > rows(entry) || fromRow > toRow || outBytes > Integer.MAX_VALUE - 8) {
            throw fail(path, "tensor '" + name + "': rows [" + fromRow + ", " + toRow + ") of " + rows(entry)
                    + " cannot be read as one slice of at most 2 GiB in fp32");
        }
        ByteBuffer out = ByteBuffer.allocateDirect((int) outBytes).order(ByteOrder.LITTLE_ENDIAN);
        long begin = entry.begin() + fromRow * rowElements * entry.dtype().bytes();
        long length = (toRow - fromRow) * rowElements * entry.dtype().bytes();
        try {
            for (long offset = 0; offset < length; offset += MAP_CHUNK) {
                MappedByteBuffer map = channel.map(FileChannel.MapMode.READ_ONLY, dataStart + begin + offset,
                        Math.min(MAP_CHUNK, length - offset));
                map.order(ByteOrder.LITTLE_ENDIAN);
                widen(entry.dtype(), map, out);
            }
        } catch (IOException e) {
            throw new LongctxException(path + ": cannot read tensor '" + name + "' (" + e.getMessage() + ")");
        }
        out.flip();
        return out;
    }

    /** Rows [fromRow, toRow) as a float array. */
    public float[] readFloats(String name, long fromRow, long toRow) {
        ByteBuffer buffer = readRowsAsF32(name, fromRow, toRow);
        float[] values = new float[buffer.remaining() / 4];
        buffer.asFloatBuffer().get(values);
        return values;
    }

    private static void widen(DType dtype, ByteBuffer in, ByteBuffer out) {
        switch (dtype) {
            case F32 -> out.put(in);
            case BF16 -> {
                while (in.remaining() >= 2) {
                    out.putFloat(Float16.bf16ToFloat(in.getShort()));
                }
            }
            case F16 -> {
                while (in.remaining() >= 2) {
                    out.putFloat(Float16.halfToFloat(in.getShort()));
                }
            }
            default -> throw new IllegalStateException("not a float dtype: " + dtype);
        }
    }

    /** Convenience for tests and small tensors. */
    public float[] readFloats(String name) {
        return readFloats(name, 0, rows(entry(name)));
    }

    private static void readFully(FileChannel channel, ByteBuffer buffer, long position) throws IOException {
        long pos = position;
        while (buffer.hasRemaining()) {
            int n = channel.read(buffer, pos);
            if (n < 0) {
                throw new IOException("unexpected end of file");
            }
            pos += n;
        }
    }

    private static LongctxException fail(Path path, String message) {
        return new LongctxException(path + ": " + message);
    }


    @Override
    public void close() {
        Closing.quietly(channel);
    }
}
