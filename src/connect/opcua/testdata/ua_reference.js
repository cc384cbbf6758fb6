// Reference codec for the OPC UA message tests: node-opcua (an independent implementation) encodes
// service responses with known field values, and decodes what plantfloor encodes.
//   node ua_reference.js encode            -> one line per case: "<case> <hex of type id + body>"
//   node ua_reference.js decode < lines    -> one JSON line per input line "<case> <hex>":
//        {"case", "type", "consumed": bytes read == bytes given, "value": the decoded object}
// Needs node-opcua under $PEERS_HOME/node_modules (NODE_PATH).
"use strict";
const t = require("node-opcua-types");
const { BinaryStream } = require("node-opcua-binary-stream");
const { encodeNodeId, decodeNodeId } = require("node-opcua-basic-types");
const { DataType, VariantArrayType } = require("node-opcua-variant");
const { StatusCodes } = require("node-opcua-status-code");
const { getStandardDataTypeFactory } = require("node-opcua-factory");
const { resolveNodeId } = require("node-opcua-nodeid");

const D = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678));  // 1704164645678 ms

function hex(obj) {
  const s = new BinaryStream(obj.binaryStoreSize() + 64);
  encodeNodeId(obj.schema.encodingDefaultBinary, s);
  obj.encode(s);
  return s.buffer.subarray(0, s.length).toString("hex");
}

const dataChange = new t.DataChangeNotification({
  monitoredItems: [{ clientHandle: 7, value: {
    value: { dataType: DataType.Double, value: 21.5 }, statusCode: StatusCodes.UncertainLastUsableValue,
    sourceTimestamp: D } }],
});

const cases = {
  read: new t.ReadResponse({ results: [
    { value: { dataType: DataType.Int32, value: 42 }, statusCode: StatusCodes.Good, sourceTimestamp: D, serverTimestamp: D },
    { value: { dataType: DataType.String, value: "hello" } },
    { value: { dataType: DataType.Double, arrayType: VariantArrayType.Array, value: [1.5, -2.25] } },
    { value: { dataType: DataType.Int16, arrayType: VariantArrayType.Matrix, dimensions: [2, 3],
               value: new Int16Array([1, 2, 3, 4, 5, 6]) } },
    { statusCode: StatusCodes.BadNodeIdUnknown },
    { value: { dataType: DataType.LocalizedText, value: { locale: "en", text: "Temp" } } },
    { value: { dataType: DataType.QualifiedName, value: { namespaceIndex: 1, name: "Counter" } } },
    { value: { dataType: DataType.Guid, value: "72962B91-FA75-4AE6-8D28-B404DC7DAF63" } },
    { value: { dataType: DataType.ByteString, value: Buffer.from([0, 1, 255]) } },
    { value: { dataType: DataType.NodeId, value: resolveNodeId("ns=1;s=Line1") } },
    { value: { dataType: DataType.UInt64, arrayType: VariantArrayType.Scalar, value: [1, 5] } },
    { value: { dataType: DataType.Boolean, arrayType: VariantArrayType.Array, value: [true, false, true] } },
    { value: { dataType: DataType.Float, value: -6.5 } },
    { value: { dataType: DataType.StatusCode, value: StatusCodes.BadTimeout } },
    { value: { dataType: DataType.DateTime, value: D } },
    { value: { dataType: DataType.ExtensionObject, value: new t.Range({ low: 1, high: 2 }) } },
    { value: { dataType: DataType.String, arrayType: VariantArrayType.Array, value: ["a", "", "c"] } },
  ] }),
  publish: new t.PublishResponse({
    subscriptionId: 3, availableSequenceNumbers: [4, 5], moreNotifications: false,
    notificationMessage: { sequenceNumber: 5, publishTime: D, notificationData: [
      dataChange, new t.StatusChangeNotification({ status: StatusCodes.BadTimeout })] },
    results: [StatusCodes.Good],
  }),
  keepalive: new t.PublishResponse({ subscriptionId: 3, notificationMessage: { sequenceNumber: 6, publishTime: D, notificationData: [] } }),
  browse: new t.BrowseResponse({ results: [{ statusCode: StatusCodes.Good, continuationPoint: Buffer.from("cp1"),
    references: [{ referenceTypeId: "i=35", isForward: true, nodeId: "ns=1;s=Line1",
      browseName: { namespaceIndex: 1, name: "Line1" }, displayName: { text: "Line1" }, nodeClass: 1,
      typeDefinition: "i=61" }] }] }),
  translate: new t.TranslateBrowsePathsToNodeIdsResponse({ results: [
    { statusCode: StatusCodes.Good, targets: [{ targetId: "ns=1;s=Line1.Counter", remainingPathIndex: 0xFFFFFFFF }] },
    { statusCode: StatusCodes.BadNoMatch, targets: [] }] }),
  monitored: new t.CreateMonitoredItemsResponse({ results: [
    { statusCode: StatusCodes.Good, monitoredItemId: 11, revisedSamplingInterval: 100, revisedQueueSize: 10 }] }),
  subscription: new t.CreateSubscriptionResponse({ subscriptionId: 3, revisedPublishingInterval: 100,
    revisedLifetimeCount: 600, revisedMaxKeepAliveCount: 20 }),
  modify: new t.ModifySubscriptionResponse({ revisedPublishingInterval: 250, revisedLifetimeCount: 600, revisedMaxKeepAliveCount: 20 }),
  delsub: new t.DeleteSubscriptionsResponse({ results: [StatusCodes.Good, StatusCodes.BadSubscriptionIdInvalid] }),
  transfer: new t.TransferSubscriptionsResponse({ results: [{ statusCode: StatusCodes.Good, availableSequenceNumbers: [4, 5] }] }),
  republish: new t.RepublishResponse({ notificationMessage: { sequenceNumber: 4, publishTime: D, notificationData: [
    new t.DataChangeNotification({ monitoredItems: [{ clientHandle: 8, value: { value: { dataType: DataType.Int32, value: -1 } } }] })] } }),
  fault: new t.ServiceFault({ responseHeader: { requestHandle: 77, serviceResult: StatusCodes.BadSessionIdInvalid } }),
  session: new t.CreateSessionResponse({ sessionId: "ns=1;i=5", authenticationToken: "ns=0;b=AQID",
    revisedSessionTimeout: 30000, serverNonce: Buffer.alloc(32, 0xab),
    serverSignature: { algorithm: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", signature: Buffer.from([1, 2]) },
    maxRequestMessageSize: 0 }),
  activate: new t.ActivateSessionResponse({ serverNonce: Buffer.alloc(32, 0xcd), results: [StatusCodes.Good] }),
  opensc: new t.OpenSecureChannelResponse({ serverProtocolVersion: 0,
    securityToken: { channelId: 5, tokenId: 6, createdAt: D, revisedLifetime: 600000 } }),
  endpoints: new t.GetEndpointsResponse({ endpoints: [{ endpointUrl: "opc.tcp://127.0.0.1:4840/UA/X",
    server: { applicationUri: "urn:x", productUri: "urn:p", applicationName: { text: "X" }, applicationType: 0,
              discoveryUrls: ["opc.tcp://127.0.0.1:4840"] },
    securityMode: 1, securityPolicyUri: "http://opcfoundation.org/UA/SecurityPolicy#None",
    userIdentityTokens: [{ policyId: "anonymous", tokenType: 0 }, { policyId: "username", tokenType: 1 }],
    transportProfileUri: "http://opcfoundation.org/UA-Profile/Transport/uatcp-uasc-uabinary", securityLevel: 1 }] }),
};

if (process.argv[2] === "encode") {
  for (const [name, obj] of Object.entries(cases)) console.log(name + " " + hex(obj));
} else if (process.argv[2] === "decode") {
  const lines = require("fs").readFileSync(0, "utf8").split("\n").filter((l) => l.trim());
  for (const line of lines) {
    const [name, h] = line.split(" ");
    const buf = Buffer.from(h, "hex");
    const out = { case: name };
    try {
      const s = new BinaryStream(buf);
      const id = decodeNodeId(s);
      const obj = getStandardDataTypeFactory().constructObject(id);
      obj.decode(s);
      out.type = obj.constructor.name;
      out.consumed = s.length === buf.length;
      out.value = JSON.parse(JSON.stringify(obj));
    } catch (e) {
      out.error = String(e && e.message || e);
    }
    console.log(JSON.stringify(out));
  }
} else {
  console.error("usage: ua_reference.js encode|decode");
  process.exit(2);
}
