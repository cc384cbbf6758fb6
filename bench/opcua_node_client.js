// node-opcua side of bench/opcua_subscribe_bench.cpp: one ClientSubscription with N monitored items
// (ns=1;s=Bench.<i>, zero-padded to 5 digits) created in one CreateMonitoredItems call, the same
// publishing / sampling interval, queue size 1 and timestamps Both as plantfloor's client.
// usage: node opcua_node_client.js URL ITEMS INTERVAL_MS SECONDS [WARMUP_S]
// Prints "WINDOW start" and "WINDOW end" around the measured window, then one JSON line:
//   {"client":"node-opcua","notifications","window_s","cpu_s","max_rss_kb","setup_s"}
// cpu_s: process.cpuUsage() (user + system, all threads) over the window.
const path = require("path");
const { createRequire } = require("module");
const home = process.env.PEERS_HOME || "/tmp/plantfloor-peers";
const peerRequire = createRequire(path.join(home, "package.json"));
const { OPCUAClient, MessageSecurityMode, SecurityPolicy, AttributeIds, TimestampsToReturn,
        OPCUACertificateManager } = peerRequire("node-opcua");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

(async () => {
  const [url, itemsArg, intervalArg, secondsArg, warmupArg] = process.argv.slice(2);
  const n = parseInt(itemsArg, 10), interval = parseInt(intervalArg, 10), seconds = parseFloat(secondsArg);
  const warmup = parseFloat(warmupArg || "2");
  if (!url || !(n > 0) || !(interval > 0) || !(seconds > 0)) throw new Error("usage: opcua_node_client.js URL ITEMS INTERVAL_MS SECONDS [WARMUP_S]");
  const t0 = Date.now();
  const client = OPCUAClient.create({ applicationName: "BenchNodeClient", endpointMustExist: false,
    connectionStrategy: { maxRetry: 1, initialDelay: 200 },
    securityMode: MessageSecurityMode.None, securityPolicy: SecurityPolicy.None,
    clientCertificateManager: new OPCUACertificateManager({
      rootFolder: path.join(home, "pki", "opcua-bench-client"), automaticallyAcceptUnknownCertificate: true }) });
  await client.connect(url);
  const session = await client.createSession();
  const sub = await session.createSubscription2({ requestedPublishingInterval: interval, requestedMaxKeepAliveCount: 10,
    requestedLifetimeCount: 100, maxNotificationsPerPublish: 0, publishingEnabled: true, priority: 0 });
  const items = [];
  for (let i = 0; i < n; i++) items.push({ nodeId: `ns=1;s=Bench.${String(i).padStart(5, "0")}`, attributeId: AttributeIds.Value });
  const group = await sub.monitorItems(items, { samplingInterval: interval, queueSize: 1, discardOldest: true },
                                       TimestampsToReturn.Both);
  let count = 0;
  group.on("changed", () => { count++; });
  const setup = (Date.now() - t0) / 1000;
  await sleep(warmup * 1000);
  const c0 = cpu(), n0 = count, w0 = process.hrtime.bigint();
  console.log("WINDOW start");
  await sleep(seconds * 1000);
  const c1 = cpu(), n1 = count, w1 = process.hrtime.bigint();
  console.log("WINDOW end");
  const out = { client: "node-opcua", notifications: n1 - n0, window_s: Number(w1 - w0) / 1e9, cpu_s: c1 - c0,
                max_rss_kb: process.resourceUsage().maxRSS, setup_s: setup };
  await sub.terminate();
  await session.close();
  await client.disconnect();
  await new Promise((r) => process.stdout.write(JSON.stringify(out) + "\n", r));
  process.exit(0);
})().catch((e) => { console.error("opcua_node_client:", e.message); process.exit(1); });
