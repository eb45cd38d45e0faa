package io.longctx.engine;

import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.JniUtils;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Builds a TorchScript archive for a parameterless module from its source, so that ATen ops DJL does not expose
 * (scaled_dot_product_attention) can be called with autograd intact. The archive layout is the minimal one
 * torch.jit.load accepts: version, constants.pkl, data.pkl (the module object) and code/__torch__.py.
 */
public final class TorchScriptArchive {
    private TorchScriptArchive() {
    }

    /**
     * @param className the module's class name (an identifier)
     * @param methods the method definitions, indented by four spaces, each with typed arguments
     */
    public static byte[] build(String className, String methods) {
        String code = "class " + className + "(Module):\n"
                + "  __parameters__ = []\n"
                + "  __buffers__ = []\n"
                + "  training : bool\n"
                + "  _is_full_backward_hook : Optional[bool]\n"
                + methods;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            String root = "archive/";
            stored(zip, root + "version", "3\n".getBytes(StandardCharsets.US_ASCII));
            stored(zip, root + "constants.pkl", new byte[] {(byte) 0x80, 2, ')', '.'});
            stored(zip, root + "data.pkl", modulePickle(className));
            stored(zip, root + "code/__torch__.py", code.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** Loads the archive through a temporary file (the path loader is the one DJL documents for modules). */
    public static PtSymbolBlock load(PtNDManager manager, String className, String methods) {
        try {
            Path file = Files.createTempFile("longctx-" + className, ".pt");
            try {
                Files.write(file, build(className, methods));
                PtSymbolBlock block = JniUtils.loadModule(manager, file, true, new String[0], new String[0], false);
                JniUtils.enableInferenceMode(block);
                return block;
            } finally {
                Files.deleteIfExists(file);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Protocol-2 pickle of {@code __torch__.<className>} with training=False and no backward hook. */
    static byte[] modulePickle(String className) {
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        p.write(0x80);
        p.write(2);
        p.write('c');
        p.writeBytes(("__torch__\n" + className + "\n").getBytes(StandardCharsets.US_ASCII));
        p.write(')');
        p.write(0x81);
        p.write('}');
        p.write('(');
        binUnicode(p, "training");
        p.write(0x89);
        binUnicode(p, "_is_full_backward_hook");
        p.write('N');
        p.write('u');
        p.write('b');
        p.write('.');
        return p.toByteArray();
    }

    private static void binUnicode(ByteArrayOutputStream p, String s) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        p.write('X');
        p.write(utf8.length & 0xff);
        p.write((utf8.length >>> 8) & 0xff);
        p.write((utf8.length >>> 16) & 0xff);
        p.write((utf8.length >>> 24) & 0xff);
        p.writeBytes(utf8);
    }

    private static void stored(ZipOutputStream zip, String name, byte[] data) throws IOException {
        ZipEntry entry = new ZipEntry(name);
        entry.setMethod(ZipEntry.STORED);
        entry.setSize(data.length);
        CRC32 crc = new CRC32();
        crc.update(data);
        entry.setCrc(crc.getValue());
        zip.putNextEntry(entry);
        zip.write(data);
        zip.closeEntry();
    }
}
