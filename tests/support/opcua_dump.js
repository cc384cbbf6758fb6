// Independent OPC UA reader for tests: node-opcua's client browses and reads, and prints what it saw
// as one JSON document in a canonical form that a C++ test can build from its own decoder and compare
// field by field (the two decoders share no code).
//
// usage: node opcua_dump.js URL browse NODEID     -> [{"nodeId","browseName","nodeClass"}, ...]
//        node opcua_dump.js URL seed < ids.txt    -> writes fixed values (seedValues below) to those of the
//                                                    nodes whose DataType is a built-in type: [{"nodeId","status"}]
//        node opcua_dump.js URL read < ids.txt    -> [{"nodeId","dataType","valueRank","status","value"}, ...]
//                                                    (one node id per stdin line, "ns=1;s=x" form)
// Env: PEERS_HOME (npm packages, default /tmp/plantfloor-peers), OPCUA_USER / OPCUA_PASSWORD.
//
// Canonical form of a Variant: {"type": BuiltinName, "array": bool, "dims": [..] (matrix only),
// "value": element or [elements]}. Elements: Boolean/SByte..UInt32/StatusCode numbers; Float/Double
// numbers or "NaN"/"Infinity"/"-Infinity"; Int64/UInt64 and DateTime (100 ns ticks since 1601) decimal
// strings; String/XmlElement strings and ByteString lower-case hex (null -> ""); Guid lower-case text;
// NodeId {"ns","t":"i|s|g|b","id"}; ExpandedNodeId adds "uri","server"; QualifiedName {"ns","name"};
// LocalizedText {"locale","text"} (null when absent); ExtensionObject null or {"typeId": NodeId of the
// binary encoding, "body": hex of the binary body}; DataValue {"value","status","sourceMs","serverMs"};
// Variant a canonical Variant; DiagnosticInfo with only the fields present.
const path = require("path");
const { createRequire } = require("module");
const home = process.env.PEERS_HOME || "/tmp/plantfloor-peers";
const peerRequire = createRequire(path.join(home, "package.json"));
const { OPCUAClient, MessageSecurityMode, SecurityPolicy, AttributeIds, DataType, Variant, VariantArrayType,
        NodeClass, UserTokenType, OPCUACertificateManager } = peerRequire("node-opcua");
const { BinaryStream } = peerRequire("node-opcua-binary-stream");

const kEpochOffsetMs = 11644473600000n;  // 1601-01-01 to 1970-01-01

function ticks(date) {
  if (!date) return "0";
  const pico = BigInt(Math.floor((date.picoseconds || 0) / 100000));
  return ((BigInt(date.getTime()) + kEpochOffsetMs) * 10000n + pico).toString();
}
function int64(v, signed) {
  if (typeof v === "number") return BigInt(v).toString();
  const x = (BigInt(v[0] >>> 0) << 32n) | BigInt(v[1] >>> 0);
  return (signed ? BigInt.asIntN(64, x) : BigInt.asUintN(64, x)).toString();
}
function real(x) { return Number.isFinite(x) ? x : String(x); }
function bytes(b) { return b ? Buffer.from(b).toString("hex") : ""; }
function nodeId(n) {
  const t = { 1: "i", 2: "s", 3: "g", 4: "b" }[n.identifierType];  // node-opcua NodeIdType
  let id = n.value;
  if (t === "g") id = String(id).toLowerCase();
  if (t === "b") id = bytes(id);
  return { ns: n.namespace, t, id };
}
function expandedNodeId(n) {
  return { ...nodeId(n), uri: n.namespaceUri || "", server: n.serverIndex || 0 };
}
function extensionObject(x) {
  if (!x) return null;
  if (x.constructor && x.constructor.name === "OpaqueStructure") return { typeId: nodeId(x.nodeId), body: bytes(x.buffer) };
  const s = new BinaryStream(x.binaryStoreSize());
  x.encode(s);
  return { typeId: nodeId(x.schema.encodingDefaultBinary), body: bytes(s.buffer.subarray(0, s.length)) };
}
function diagnosticInfo(d) {
  const o = {};
  for (const [k, out] of [["symbolicId", "symbolicId"], ["namespaceURI", "namespaceUri"], ["locale", "locale"],
                          ["localizedText", "localizedText"]]) {
    if (d[k] !== undefined && d[k] !== null && d[k] !== -1) o[out] = d[k];
  }
  if (d.additionalInfo !== null && d.additionalInfo !== undefined) o.additionalInfo = d.additionalInfo;
  if (d.innerStatusCode && d.innerStatusCode.value !== 0) o.innerStatusCode = d.innerStatusCode.value;
  if (d.innerDiagnosticInfo) o.inner = diagnosticInfo(d.innerDiagnosticInfo);
  return o;
}
function dataValue(dv) {
  const ms = (d) => (d ? d.getTime() : null);
  return { value: dv.value && dv.value.dataType !== DataType.Null ? variant(dv.value) : null,
           status: dv.statusCode ? dv.statusCode.value : 0,
           sourceMs: ms(dv.sourceTimestamp), serverMs: ms(dv.serverTimestamp) };
}
function element(type, v) {
  switch (type) {
    case DataType.Boolean: case DataType.SByte: case DataType.Byte: case DataType.Int16:
    case DataType.UInt16: case DataType.Int32: case DataType.UInt32: return v;
    case DataType.Float: case DataType.Double: return real(v);
    case DataType.Int64: return int64(v, true);
    case DataType.UInt64: return int64(v, false);
    case DataType.String: case DataType.XmlElement: return v === null || v === undefined ? "" : String(v);
    case DataType.DateTime: return ticks(v);
    case DataType.Guid: return String(v).toLowerCase();
    case DataType.ByteString: return bytes(v);
    case DataType.NodeId: return nodeId(v);
    case DataType.ExpandedNodeId: return expandedNodeId(v);
    case DataType.StatusCode: return v.value;
    case DataType.QualifiedName: return { ns: v.namespaceIndex, name: v.name === null ? "" : v.name };
    case DataType.LocalizedText: return { locale: v.locale || null, text: v.text === undefined ? null : v.text };
    case DataType.ExtensionObject: return extensionObject(v);
    case DataType.DataValue: return dataValue(v);
    case DataType.Variant: return variant(v);
    case DataType.DiagnosticInfo: return diagnosticInfo(v);
    default: throw new Error(`no canonical form for ${DataType[type]}`);
  }
}
function variant(v) {
  const out = { type: DataType[v.dataType], array: v.arrayType !== VariantArrayType.Scalar };
  if (v.arrayType === VariantArrayType.Matrix) out.dims = Array.from(v.dimensions);
  out.value = out.array ? Array.from(v.value || [], (e) => element(v.dataType, e)) : element(v.dataType, v.value);
  return out;
}

// Values written by "seed" (node-opcua encodes them; both readers must then see exactly these): the
// extremes of each integer type, values a float cannot hold exactly, non-ASCII text, a DateTime with
// 100 ns resolution, every NodeId kind, nested Variants and DataValues.
function seedValues(api) {
  const { DataValue, Variant, LocalizedText, QualifiedName, DiagnosticInfo, StatusCodes, coerceNodeId } = api;
  const date = (ms, extraTicks) => { const d = new Date(ms); d.picoseconds = extraTicks * 100000; return d; };
  const range = (lo, hi) => api.addressSpaceRange(lo, hi);
  return {
    [DataType.Boolean]: [true, [true, false, true]],
    [DataType.SByte]: [-128, [-128, 0, 127]],
    [DataType.Byte]: [255, [0, 128, 255]],
    [DataType.Int16]: [-32768, [-32768, -1, 32767]],
    [DataType.UInt16]: [65535, [0, 1, 65535]],
    [DataType.Int32]: [-2147483648, [-2147483648, 42, 2147483647]],
    [DataType.UInt32]: [4294967295, [0, 3000000000, 4294967295]],
    [DataType.Int64]: [[0x80000000, 0], [[0xffffffff, 0xffffffff], [0x001fffff, 0xffffffff], [0x7fffffff, 0xffffffff]]],
    [DataType.UInt64]: [[0xffffffff, 0xffffffff], [[0, 0], [0x00200000, 1], [0x80000000, 0]]],
    [DataType.Float]: [0.1, [-3.4028234663852886e38, 1.401298464324817e-45, -0.5]],
    [DataType.Double]: [Math.PI, [-1.7976931348623157e308, 5e-324, -0]],
    [DataType.String]: ["Temperatur 温度 ✓ \"quoted\"", ["", "a", "Grüße"]],
    [DataType.DateTime]: [date(1704164645678, 1234), [date(1704164645678, 0), date(0, 9999), date(253402300799000, 0)]],
    [DataType.Guid]: ["72962B91-FA75-4AE6-8D28-B404DC7DAF63", ["00000000-0000-0000-0000-000000000001", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"]],
    [DataType.ByteString]: [Buffer.from([0, 1, 0x80, 0xff]), [Buffer.from("OPC"), Buffer.alloc(0), Buffer.from([0xde, 0xad])]],
    [DataType.XmlElement]: ["<a b=\"1\">x &amp; y</a>", ["<x/>", "<y>2</y>"]],
    [DataType.NodeId]: [coerceNodeId("ns=2;s=Line1.Temperature"),
      [coerceNodeId("i=85"), coerceNodeId("ns=300;i=4294967295"), coerceNodeId("ns=1;g=72962b91-fa75-4ae6-8d28-b404dc7daf63"),
       coerceNodeId("ns=3;b=AAH/"), coerceNodeId("ns=1;i=70000"), coerceNodeId("ns=2;s=")]],
    [DataType.StatusCode]: [StatusCodes.BadNodeIdUnknown, [StatusCodes.Good, StatusCodes.UncertainLastUsableValue, StatusCodes.BadTimeout]],
    [DataType.QualifiedName]: [new QualifiedName({ namespaceIndex: 2, name: "Press7" }),
      [new QualifiedName({ namespaceIndex: 0, name: "Objects" }), new QualifiedName({ namespaceIndex: 65535, name: "ü" })]],
    [DataType.LocalizedText]: [new LocalizedText({ locale: "de-DE", text: "Temperatur" }),
      [new LocalizedText({ text: "only text" }), new LocalizedText({ locale: "en", text: "" }), new LocalizedText({ locale: "fr" })]],
    [DataType.ExtensionObject]: [range(-10, 10), [range(0, 1), range(1.5, 2.5)]],
    [DataType.DataValue]: [new DataValue({ value: new Variant({ dataType: DataType.Int32, value: -7 }),
                                            statusCode: StatusCodes.UncertainLastUsableValue,
                                            sourceTimestamp: new Date(1704164645678) }),
      [new DataValue({ value: new Variant({ dataType: DataType.String, value: "x" }) }),
       new DataValue({ statusCode: StatusCodes.BadTimeout, serverTimestamp: new Date(1704164645000) })]],
    [DataType.Variant]: [new Variant({ dataType: DataType.String, value: "nested" }),
      [new Variant({ dataType: DataType.Double, value: 2.5 }), new Variant({ dataType: DataType.UInt64, arrayType: VariantArrayType.Scalar, value: [1, 5] }),
       new Variant({ dataType: DataType.Int16, arrayType: VariantArrayType.Array, value: new Int16Array([1, -2]) })]],
    [DataType.DiagnosticInfo]: [new DiagnosticInfo({ symbolicId: 3, locale: 1, additionalInfo: "more",
                                                     innerStatusCode: StatusCodes.BadTimeout,
                                                     innerDiagnosticInfo: new DiagnosticInfo({ namespaceURI: 2 }) }),
      [new DiagnosticInfo({ localizedText: 4 }), new DiagnosticInfo({})]],
  };
}
// Built-in type a DataType node id stands for, for the nodes seed writes (abstract and derived
// types other than Structure and BaseDataType are left alone).
function seedType(dt) {
  if (dt.namespace !== 0) return null;
  const id = dt.value;
  if (id >= 1 && id <= 25 && id !== 22 && id !== 24) return id;
  if (id === 22) return DataType.ExtensionObject;  // Structure
  if (id === 24) return DataType.Variant;          // BaseDataType: the value is a Variant
  return null;
}

async function seed(session, ids) {
  const api = peerRequire("node-opcua");
  api.addressSpaceRange = (low, high) => new (peerRequire("node-opcua-types").Range)({ low, high });
  const values = seedValues(api);
  const attrs = await session.read(ids.flatMap((nodeId) => [AttributeIds.DataType, AttributeIds.ValueRank]
    .map((attributeId) => ({ nodeId, attributeId }))));
  const writes = [], written = [];
  ids.forEach((nodeId, i) => {
    const type = seedType(attrs[2 * i].value.value), rank = attrs[2 * i + 1].value.value;
    if (type === null || (rank !== -1 && rank !== 1)) return;  // matrices keep their values
    const array = rank === 1;
    const value = array ? values[type][1] : values[type][0];
    const v = new Variant({ dataType: type, arrayType: array ? VariantArrayType.Array : VariantArrayType.Scalar, value });
    writes.push({ nodeId, attributeId: AttributeIds.Value, value: { value: v } });
    written.push(nodeId);
  });
  const st = await session.write(writes);
  return written.map((nodeId, i) => ({ nodeId, status: st[i].value, statusName: st[i].name }));
}

async function main() {
  const [url, mode] = process.argv.slice(2);
  if (!url || !["browse", "read", "seed"].includes(mode)) throw new Error("usage: opcua_dump.js URL browse|read|seed < ids");
  const client = OPCUAClient.create({ applicationName: "OpcuaDump", endpointMustExist: false,
    connectionStrategy: { maxRetry: 1, initialDelay: 200 },
    securityMode: MessageSecurityMode.None, securityPolicy: SecurityPolicy.None,
    clientCertificateManager: new OPCUACertificateManager({
      rootFolder: path.join(home, "pki", "opcua-dump"), automaticallyAcceptUnknownCertificate: true }) });
  await client.connect(url);
  const user = process.env.OPCUA_USER;
  const session = await client.createSession(user ? { type: UserTokenType.UserName, userName: user,
    password: process.env.OPCUA_PASSWORD || "" } : undefined);
  let out;
  const ids = require("fs").readFileSync(0, "utf8").split("\n").map((s) => s.trim()).filter(Boolean);
  if (mode === "browse") {
    out = {};
    for (const id of ids) {
      const r = await session.browse(id);
      out[id] = r.references.map((x) => ({ nodeId: x.nodeId.toString(), browseName: x.browseName.name,
                                           nodeClass: NodeClass[x.nodeClass] }));
    }
  } else if (mode === "seed") {
    out = await seed(session, ids);
  } else {
    const reads = [];
    for (const nodeId of ids) {
      for (const a of [AttributeIds.DataType, AttributeIds.ValueRank, AttributeIds.Value]) reads.push({ nodeId, attributeId: a });
    }
    const dvs = await session.read(reads);
    out = ids.map((nodeId, i) => {
      const [dt, rank, val] = dvs.slice(3 * i, 3 * i + 3);
      return { nodeId, dataType: nodeId && dt.value.value ? nodeIdOf(dt.value.value) : null,
               valueRank: rank.value.value, status: val.statusCode.value,
               value: val.value && val.value.dataType !== DataType.Null ? variant(val.value) : null };
    });
  }
  await session.close();
  await client.disconnect();
  // a pipe is written asynchronously: exit only once everything is flushed
  await new Promise((resolve) => process.stdout.write(JSON.stringify(out) + "\n", resolve));
}
function nodeIdOf(n) { return nodeId(n); }

main().then(() => process.exit(0)).catch((e) => { console.error("opcua_dump:", e.message); process.exit(1); });
