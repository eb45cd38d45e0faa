package io.longctx.safetensors;

/** Safetensors element types. Only the float types are loaded; the rest are named so errors can say what they saw. */
public enum DType {
    F32(4, true), F16(2, true), BF16(2, true), F64(8, false), I64(8, false), I32(4, false), I16(2, false),
    I8(1, false), U8(1, false), BOOL(1, false), F8_E4M3(1, false), F8_E5M2(1, false), U16(2, false),
    U32(4, false), U64(8, false);

    private final int bytes;
    private final boolean loadable;

    DType(int bytes, boolean loadable) {
        this.bytes = bytes;
        this.loadable = loadable;
    }

    public int bytes() {
        return bytes;
    }

    public boolean loadable() {
        return loadable;
    }

    /** The enum for a header's dtype string, or null when the string names no safetensors type. */
    public static DType parse(String name) {
        for (DType t : values()) {
            if (t.name().equals(name)) {
                return t;
            }
        }
        return null;
    }
}
