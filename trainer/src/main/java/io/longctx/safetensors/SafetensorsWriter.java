package io.longctx.safetensors;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.longctx.LongctxException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Writes fp32 tensors to a safetensors file in F32, F16 or BF16, keeping the caller's tensor order and names, with
 * an optional {@code __metadata__}. The file appears atomically: written beside the target, synced, then renamed.
 */
public final class SafetensorsWriter {
    /** A tensor to write: fp32 values and a shape. */
    public record Tensor(float[] values, long[] shape) {
    }

    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private final DType dtype;

    public SafetensorsWriter(DType dtype) {
        if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16) {
            throw new IllegalArgumentException("can only write F32, F16 or BF16, not " + dtype);
        }
        this.dtype = dtype;
    }

    public SafetensorsWriter add(String name, float[] values, long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        if (n != values.length) {
            throw new IllegalArgumentException(name + ": " + values.length + " values for shape of " + n);
        }
        tensors.put(name, new Tensor(values, shape.clone()));
        return this;
    }

    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    public byte[] headerBytes() {
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode root = mapper.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = root.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            ObjectNode entry = root.putObject(e.getKey());
            entry.put("dtype", dtype.name());
            ArrayNode shape = entry.putArray("shape");
            for (long d : e.getValue().shape()) {
                shape.add(d);
            }
            long length = (long) e.getValue().values().length * dtype.bytes();
            entry.putArray("data_offsets").add(offset).add(offset + length);
            offset += length;
        }
        byte[] json = root.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        byte[] header = new byte[padded];
        java.util.Arrays.fill(header, (byte) ' ');
        System.arraycopy(json, 0, header, 0, json.length);
        return header;
    }

    public void write(Path target) {
        Path parent = target.toAbsolutePath().getParent();
        Path temp = parent.resolve("." + target.getFileName() + ".tmp");
        try {
            Files.createDirectories(parent);
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE,
                    StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
                    OutputStream out = Channels.newOutputStream(channel)) {
                byte[] header = headerBytes();
                ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length);
                out.write(length.array());
                out.write(header);
                for (Tensor tensor : tensors.values()) {
                    out.write(encode(tensor.values()));
                }
                out.flush();
                channel.force(true);
            }
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new LongctxException(target + ": cannot write (" + e.getMessage() + ")");
        }
    }

    private byte[] encode(float[] values) {
        ByteBuffer buffer = ByteBuffer.allocate(values.length * dtype.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            switch (dtype) {
                case F32 -> buffer.putFloat(v);
                case BF16 -> buffer.putShort(Float16.floatToBf16(v));
                default -> buffer.putShort(Float16.floatToHalf(v));
            }
        }
        return buffer.array();
    }
}
