// node-opcua server for what the shared peer (../shared/peers/opcua/server.js) does not offer:
// SecurityMode Sign only, a user name / password login, the ExpandedNodeId and StatusCode built-in
// types (absent from the CTT address space) and N changing Double variables for the subscription
// benchmark. Loopback only. npm packages come from $PEERS_HOME (default /tmp/plantfloor-peers) like
// the shared peers' scripts.
//
// usage: node opcua_test_server.js PORT [--mode none|sign|sign+none] [--vars N] [--interval MS]
//                                       [--pki DIR]
//   --mode       none (default): SecurityPolicy None only; sign: Basic256Sha256 Sign only (GetEndpoints
//                still answers on the None discovery channel); sign+none: both.
//   --vars N     ns=1;s=Bench.<i> (i = 0..N-1, zero-padded to 5 digits): Double, value = i + tick, where
//                tick counts --interval periods (default 100 ms) since start: every variable changes
//                every period. minimumSamplingInterval = the period.
//   --pki DIR    PKI root (default $PEERS_HOME/pki/opcua-test-PORT); unknown client certs are trusted.
// Users: anonymous, and operator / secret (any other name or password is refused).
// Objects/Types (ns=1): s=Types.ExpandedNodeId, s=Types.ExpandedNodeIdArray, s=Types.StatusCode,
//   s=Types.StatusCodeArray (values listed below; readers compare what they decode).
// Prints "READY <endpoint url> ns=<index> pid=<pid>" once listening.
const fs = require("fs"), os = require("os"), path = require("path");
const { createRequire } = require("module");
const home = process.env.PEERS_HOME || "/tmp/plantfloor-peers";
const peerRequire = createRequire(path.join(home, "package.json"));
const { OPCUAServer, Variant, DataType, VariantArrayType, MessageSecurityMode, SecurityPolicy,
        OPCUACertificateManager, StatusCodes, ExpandedNodeId, NodeIdType } = peerRequire("node-opcua");

function parseArgs(argv) {
  const a = { port: parseInt(argv[0], 10), mode: "none", vars: 0, interval: 100, pki: "" };
  for (let i = 1; i < argv.length; i += 2) {
    const k = argv[i], v = argv[i + 1];
    if (v === undefined) throw new Error(`option ${k} needs a value`);
    if (k === "--mode") a.mode = v;
    else if (k === "--vars") a.vars = parseInt(v, 10);
    else if (k === "--interval") a.interval = parseInt(v, 10);
    else if (k === "--pki") a.pki = v;
    else throw new Error(`unknown option ${k}`);
  }
  if (!(a.port > 0)) throw new Error("usage: opcua_test_server.js PORT [--mode none|sign|sign+none] [--vars N] [--interval MS]");
  if (!["none", "sign", "sign+none"].includes(a.mode)) throw new Error(`--mode must be none|sign|sign+none, got ${a.mode}`);
  if (!(a.vars >= 0) || !(a.interval >= 10)) throw new Error("--vars must be >= 0 and --interval >= 10");
  a.pki = a.pki || path.join(home, "pki", `opcua-test-${a.port}`);
  return a;
}

// Self-signed cert naming 127.0.0.1 and localhost (node-opcua's default names only the host name).
async function ensureCertificate(cm, appUri) {
  const file = path.join(cm.rootDir, "own", "certs", "certificate.pem");
  if (!fs.existsSync(file)) {
    await cm.createSelfSignedCertificate({ applicationUri: appUri, dns: ["localhost", os.hostname()],
      ip: ["127.0.0.1"], subject: "/CN=PlantfloorTestServer/O=LoopbackTest", startDate: new Date(),
      validity: 3650, outputFile: file });
  }
  return file;
}

function addTypes(ns, objects) {
  const folder = ns.addFolder(objects, { browseName: "Types" });
  const add = (name, dataType, valueRank, value) => ns.addVariable({ componentOf: folder, browseName: name,
    nodeId: `s=Types.${name}`, dataType, valueRank, value });
  const x = (o) => new ExpandedNodeId(o.type, o.value, o.ns, o.uri || null, o.server || 0);
  add("ExpandedNodeId", "ExpandedNodeId", -1, new Variant({ dataType: DataType.ExpandedNodeId,
    value: x({ type: NodeIdType.STRING, value: "Press7.Speed", ns: 0, uri: "urn:plant:line1", server: 0 }) }));
  add("ExpandedNodeIdArray", "ExpandedNodeId", 1, new Variant({ dataType: DataType.ExpandedNodeId,
    arrayType: VariantArrayType.Array, value: [
      x({ type: NodeIdType.NUMERIC, value: 2253, ns: 0 }),
      x({ type: NodeIdType.NUMERIC, value: 70000, ns: 3, server: 2 }),
      x({ type: NodeIdType.GUID, value: "72962b91-fa75-4ae6-8d28-b404dc7daf63", ns: 1, uri: "urn:x" })] }));
  add("StatusCode", "StatusCode", -1, new Variant({ dataType: DataType.StatusCode, value: StatusCodes.BadNodeIdUnknown }));
  add("StatusCodeArray", "StatusCode", 1, new Variant({ dataType: DataType.StatusCode, arrayType: VariantArrayType.Array,
    value: [StatusCodes.Good, StatusCodes.UncertainLastUsableValue, StatusCodes.BadTimeout] }));
}

function addBenchVariables(ns, objects, n, interval) {
  const folder = ns.addFolder(objects, { browseName: "Bench" });
  const t0 = Date.now();
  const tick = () => Math.floor((Date.now() - t0) / interval);
  for (let i = 0; i < n; i++) {
    ns.addVariable({ componentOf: folder, browseName: `Bench.${String(i).padStart(5, "0")}`,
      nodeId: `s=Bench.${String(i).padStart(5, "0")}`, dataType: "Double", minimumSamplingInterval: interval,
      value: { get: () => new Variant({ dataType: DataType.Double, value: i + tick() }) } });
  }
}

(async () => {
  const a = parseArgs(process.argv.slice(2));
  const appUri = "urn:localhost:PlantfloorTestServer";
  const serverCertificateManager = new OPCUACertificateManager({ rootFolder: path.join(a.pki, "server"),
    automaticallyAcceptUnknownCertificate: true });
  await serverCertificateManager.initialize();
  const certificateFile = await ensureCertificate(serverCertificateManager, appUri);
  const modes = { none: [MessageSecurityMode.None], sign: [MessageSecurityMode.Sign],
                  "sign+none": [MessageSecurityMode.None, MessageSecurityMode.Sign] }[a.mode];
  const policies = { none: [SecurityPolicy.None], sign: [SecurityPolicy.Basic256Sha256],
                     "sign+none": [SecurityPolicy.None, SecurityPolicy.Basic256Sha256] }[a.mode];
  const server = new OPCUAServer({
    host: "127.0.0.1", hostname: "127.0.0.1", port: a.port, resourcePath: "/UA/PlantfloorTest",
    serverInfo: { applicationUri: appUri, productUri: "PlantfloorTestServer",
                  applicationName: { text: "PlantfloorTestServer" } },
    serverCertificateManager, certificateFile,
    securityPolicies: policies, securityModes: modes,
    allowAnonymous: true,
    userManager: { isValidUser: (user, password) => user === "operator" && password === "secret" },
    disableDiscovery: false,
    // the benchmark's 2,000 items in one subscription: above node-opcua's defaults
    serverCapabilities: { maxMonitoredItemsPerCall: 10000,
      operationLimits: { maxMonitoredItemsPerCall: 10000, maxNodesPerRead: 10000, maxNodesPerBrowse: 10000 } },
  });
  await server.initialize();
  const ns = server.engine.addressSpace.getOwnNamespace();
  const objects = server.engine.addressSpace.rootFolder.objects;
  addTypes(ns, objects);
  if (a.vars > 0) addBenchVariables(ns, objects, a.vars, a.interval);
  await server.start();
  console.log(`READY ${server.getEndpointUrl()} ns=${ns.index} pid=${process.pid}`);
  const stop = async () => { await server.shutdown(100); process.exit(0); };
  process.on("SIGINT", stop); process.on("SIGTERM", stop);
})().catch((e) => { console.error("opcua_test_server:", e.message); process.exit(1); });
