"""Independent reference for the register layouts plantfloor documents in modbus_codec.h.
Bytes of the value big-endian (struct '>'), split into 16-bit words; "ba.." orders swap the two bytes
of every word, "cd.."/"dcba" orders reverse the word list."""
import struct

FORMATS = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "int64": "q", "uint64": "Q",
           "float32": "f", "float64": "d"}


def encode(value, typ, order, count=0):
    if typ == "string":
        raw = value.encode("ascii").ljust(2 * count, b"\0")
    elif typ == "bitword":
        raw = struct.pack(">H", value)
    else:
        raw = struct.pack(">" + FORMATS[typ], value)
    words = [raw[i:i + 2] for i in range(0, len(raw), 2)]
    if order in ("badc", "dcba", "ba"):
        words = [w[::-1] for w in words]
    if order in ("cdab", "dcba") and typ != "string":
        words = words[::-1]
    return [int.from_bytes(w, "big") for w in words]
