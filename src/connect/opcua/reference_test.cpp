// Cross-check of the message layouts against node-opcua's own codec (testdata/ua_reference.js):
// node-opcua encodes responses with known field values and plantfloor must decode exactly those
// values; plantfloor encodes requests and node-opcua must decode them, consume every byte and see
// the same values. Covers the services the live peer test does not reach (Browse, Translate,
// subscriptions, Publish, Republish, Transfer). Skips (77) without node and node-opcua.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "connect/opcua/messages.h"
#include "testing.h"

namespace pf::opcua {
namespace {

const int64_t kD = UnixNanosToTicks(1704164645678LL * 1000000);  // 2024-01-02T03:04:05.678Z

std::string PeersHome() {
  const char* h = std::getenv("PEERS_HOME");
  return h ? h : "/tmp/plantfloor-peers";
}

std::string Script() { return (std::filesystem::path(__FILE__).parent_path() / "testdata/ua_reference.js").string(); }

void RequireNode() {
  testing::RequireOrSkip(PeersHome() + "/node_modules/node-opcua-types", "node-opcua (peers.sh install)");
  if (testing::Run("node --version") != 0) {
    std::cerr << "SKIP: node not installed\n";
    std::exit(testing::kSkipReturnCode);
  }
}

std::string FromHex(std::string_view h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}

std::string ToHex(std::string_view s) {
  std::string out;
  for (char c : s) out += fmt::format("{:02x}", static_cast<uint8_t>(c));
  return out;
}

std::map<std::string, std::string> NodeEncoded() {
  std::string out;
  int rc = testing::Run(fmt::format("NODE_PATH={}/node_modules node {} encode", PeersHome(), Script()), &out);
  EXPECT_EQ(rc, 0) << out;
  std::map<std::string, std::string> cases;
  std::istringstream in(out);
  std::string name, hex;
  while (in >> name >> hex) cases[name] = FromHex(hex);
  return cases;
}

template <typename T>
T Decoded(const std::map<std::string, std::string>& cases, const std::string& name) {
  auto it = cases.find(name);
  EXPECT_NE(it, cases.end()) << name;
  if (it == cases.end()) return T{};
  auto r = DecodeServiceBody<T>(it->second);
  EXPECT_TRUE(r.ok()) << name << ": " << r.status().ToString();
  return r.ok() ? *r : T{};
}

template <typename T>
const T& Val(const DataValue& dv, size_t i = 0) {
  return std::get<T>(dv.value->values.at(i));
}

TEST(OpcuaReference, DecodesNodeOpcuaResponses) {
  RequireNode();
  auto cases = NodeEncoded();
  ASSERT_EQ(cases.size(), 16u);

  auto read = Decoded<ReadResponse>(cases, "read");
  ASSERT_EQ(read.results.size(), 17u);
  const auto& r = read.results;
  EXPECT_EQ(r[0].value->type, BuiltinType::kInt32);
  EXPECT_EQ(Val<int32_t>(r[0]), 42);
  EXPECT_EQ(r[0].source_timestamp, kD);
  EXPECT_EQ(r[0].server_timestamp, kD);
  EXPECT_EQ(Val<std::string>(r[1]), "hello");
  EXPECT_TRUE(r[2].value->is_array);
  EXPECT_EQ(Val<double>(r[2], 0), 1.5);
  EXPECT_EQ(Val<double>(r[2], 1), -2.25);
  EXPECT_EQ(r[3].value->type, BuiltinType::kInt16);
  EXPECT_EQ(r[3].value->dimensions, (std::vector<int32_t>{2, 3}));
  ASSERT_EQ(r[3].value->values.size(), 6u);
  EXPECT_EQ(Val<int16_t>(r[3], 5), 6);
  EXPECT_FALSE(r[4].value.has_value());
  EXPECT_EQ(r[4].status->Name(), "BadNodeIdUnknown");
  EXPECT_EQ(Val<LocalizedText>(r[5]), (LocalizedText{std::string("en"), std::string("Temp")}));
  EXPECT_EQ(Val<QualifiedName>(r[6]), (QualifiedName{1, "Counter"}));
  EXPECT_EQ(Val<Guid>(r[7]).ToString(), "72962b91-fa75-4ae6-8d28-b404dc7daf63");
  EXPECT_EQ(r[8].value->type, BuiltinType::kByteString);
  EXPECT_EQ(Val<std::string>(r[8]), std::string("\x00\x01\xff", 3));
  EXPECT_EQ(Val<NodeId>(r[9]).ToString(), "ns=1;s=Line1");
  EXPECT_EQ(Val<uint64_t>(r[10]), (uint64_t{1} << 32) + 5);  // node-opcua's [high, low]
  ASSERT_EQ(r[11].value->values.size(), 3u);
  EXPECT_EQ(Val<bool>(r[11], 1), false);
  EXPECT_EQ(Val<float>(r[12]), -6.5f);
  EXPECT_EQ(Val<StatusCode>(r[13]).Name(), "BadTimeout");
  EXPECT_EQ(r[14].value->type, BuiltinType::kDateTime);
  EXPECT_EQ(Val<int64_t>(r[14]), kD);
  // Range {low 1, high 2}: kept raw with its encoding id (Range_Encoding_DefaultBinary = 886).
  const auto& range = Val<ExtensionObject>(r[15]);
  EXPECT_EQ(range.type_id, NodeId::Numeric(0, 886));
  EXPECT_EQ(ToHex(range.body), "000000000000f03f0000000000000040");
  EXPECT_EQ(Val<std::string>(r[16], 2), "c");

  auto pub = Decoded<PublishResponse>(cases, "publish");
  EXPECT_EQ(pub.subscription_id, 3u);
  EXPECT_EQ(pub.available_sequence_numbers, (std::vector<uint32_t>{4, 5}));
  EXPECT_EQ(pub.notification_message.sequence_number, 5u);
  EXPECT_EQ(pub.notification_message.publish_time, kD);
  ASSERT_EQ(pub.notification_message.notification_data.size(), 2u);
  DataChangeNotification dcn;
  ASSERT_TRUE(FromExtensionObject(pub.notification_message.notification_data[0], &dcn).ok());
  ASSERT_EQ(dcn.monitored_items.size(), 1u);
  EXPECT_EQ(dcn.monitored_items[0].client_handle, 7u);
  EXPECT_EQ(Val<double>(dcn.monitored_items[0].value), 21.5);
  EXPECT_EQ(dcn.monitored_items[0].value.status->severity(), StatusCode::Severity::kUncertain);
  EXPECT_EQ(dcn.monitored_items[0].value.source_timestamp, kD);
  StatusChangeNotification scn;
  ASSERT_TRUE(FromExtensionObject(pub.notification_message.notification_data[1], &scn).ok());
  EXPECT_EQ(scn.status.Name(), "BadTimeout");
  EXPECT_EQ(pub.results.size(), 1u);

  auto keep = Decoded<PublishResponse>(cases, "keepalive");
  EXPECT_TRUE(keep.notification_message.IsKeepAlive());
  EXPECT_EQ(keep.notification_message.sequence_number, 6u);

  auto browse = Decoded<BrowseResponse>(cases, "browse");
  ASSERT_EQ(browse.results.size(), 1u);
  EXPECT_EQ(browse.results[0].continuation_point, "cp1");
  ASSERT_EQ(browse.results[0].references.size(), 1u);
  const auto& ref = browse.results[0].references[0];
  EXPECT_EQ(ref.reference_type_id, NodeId::Numeric(0, 35));
  EXPECT_TRUE(ref.is_forward);
  EXPECT_EQ(ref.node_id.ToString(), "ns=1;s=Line1");
  EXPECT_EQ(ref.browse_name, (QualifiedName{1, "Line1"}));
  EXPECT_EQ(ref.display_name.text, "Line1");
  EXPECT_EQ(ref.node_class, NodeClass::kObject);
  EXPECT_EQ(ref.type_definition.ToString(), "i=61");

  auto tr = Decoded<TranslateBrowsePathsToNodeIdsResponse>(cases, "translate");
  ASSERT_EQ(tr.results.size(), 2u);
  ASSERT_EQ(tr.results[0].targets.size(), 1u);
  EXPECT_EQ(tr.results[0].targets[0].target_id.ToString(), "ns=1;s=Line1.Counter");
  EXPECT_EQ(tr.results[0].targets[0].remaining_path_index, 0xFFFFFFFFu);
  EXPECT_EQ(tr.results[1].status_code.code, 0x806F0000u);  // BadNoMatch

  auto mon = Decoded<CreateMonitoredItemsResponse>(cases, "monitored");
  ASSERT_EQ(mon.results.size(), 1u);
  EXPECT_EQ(mon.results[0].monitored_item_id, 11u);
  EXPECT_EQ(mon.results[0].revised_sampling_interval, 100.0);
  EXPECT_EQ(mon.results[0].revised_queue_size, 10u);

  auto sub = Decoded<CreateSubscriptionResponse>(cases, "subscription");
  EXPECT_EQ(sub.subscription_id, 3u);
  EXPECT_EQ(sub.revised_publishing_interval, 100.0);
  EXPECT_EQ(sub.revised_lifetime_count, 600u);
  EXPECT_EQ(sub.revised_max_keep_alive_count, 20u);

  auto mod = Decoded<ModifySubscriptionResponse>(cases, "modify");
  EXPECT_EQ(mod.revised_publishing_interval, 250.0);
  EXPECT_EQ(mod.revised_max_keep_alive_count, 20u);

  auto del = Decoded<DeleteSubscriptionsResponse>(cases, "delsub");
  ASSERT_EQ(del.results.size(), 2u);
  EXPECT_EQ(del.results[1].Name(), "BadSubscriptionIdInvalid");

  auto xfer = Decoded<TransferSubscriptionsResponse>(cases, "transfer");
  ASSERT_EQ(xfer.results.size(), 1u);
  EXPECT_EQ(xfer.results[0].available_sequence_numbers, (std::vector<uint32_t>{4, 5}));

  auto rep = Decoded<RepublishResponse>(cases, "republish");
  EXPECT_EQ(rep.notification_message.sequence_number, 4u);
  DataChangeNotification rdcn;
  ASSERT_TRUE(FromExtensionObject(rep.notification_message.notification_data.at(0), &rdcn).ok());
  EXPECT_EQ(rdcn.monitored_items.at(0).client_handle, 8u);
  EXPECT_EQ(Val<int32_t>(rdcn.monitored_items.at(0).value), -1);

  auto fault = DecodeServiceBody<ReadResponse>(cases["fault"]);
  EXPECT_EQ(fault.status().message(), "ReadResponse: service fault BadSessionIdInvalid (0x80250000)");
  auto fault_itself = Decoded<ServiceFault>(cases, "fault");
  EXPECT_EQ(fault_itself.response_header.request_handle, 77u);

  auto cs = Decoded<CreateSessionResponse>(cases, "session");
  EXPECT_EQ(cs.session_id.ToString(), "ns=1;i=5");
  EXPECT_EQ(cs.authentication_token.type, IdType::kOpaque);
  EXPECT_EQ(cs.authentication_token.text, std::string("\x01\x02\x03", 3));
  EXPECT_EQ(cs.revised_session_timeout, 30000.0);
  EXPECT_EQ(cs.server_nonce, std::string(32, '\xab'));
  EXPECT_EQ(cs.server_signature.algorithm, "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256");
  EXPECT_EQ(cs.server_signature.signature, "\x01\x02");

  auto act = Decoded<ActivateSessionResponse>(cases, "activate");
  EXPECT_EQ(act.server_nonce, std::string(32, '\xcd'));
  EXPECT_EQ(act.results.size(), 1u);

  auto osc = Decoded<OpenSecureChannelResponse>(cases, "opensc");
  EXPECT_EQ(osc.security_token.channel_id, 5u);
  EXPECT_EQ(osc.security_token.token_id, 6u);
  EXPECT_EQ(osc.security_token.created_at, kD);
  EXPECT_EQ(osc.security_token.revised_lifetime, 600000u);

  auto eps = Decoded<GetEndpointsResponse>(cases, "endpoints");
  ASSERT_EQ(eps.endpoints.size(), 1u);
  const auto& e = eps.endpoints[0];
  EXPECT_EQ(e.endpoint_url, "opc.tcp://127.0.0.1:4840/UA/X");
  EXPECT_EQ(e.server.application_uri, "urn:x");
  EXPECT_EQ(e.server.discovery_urls, (std::vector<std::string>{"opc.tcp://127.0.0.1:4840"}));
  EXPECT_EQ(e.security_mode, MessageSecurityMode::kNone);
  ASSERT_EQ(e.user_identity_tokens.size(), 2u);
  EXPECT_EQ(e.user_identity_tokens[1].policy_id, "username");
  EXPECT_EQ(e.user_identity_tokens[1].token_type, UserTokenType::kUserName);
  EXPECT_EQ(e.security_level, 1);
}

TEST(OpcuaReference, NodeOpcuaDecodesOurRequests) {
  RequireNode();
  std::vector<std::pair<std::string, std::string>> reqs;
  RequestHeader h;
  h.authentication_token = NodeId{0, IdType::kOpaque, 0, std::string("\x01\x02\x03", 3), {}};
  h.request_handle = 17;
  h.timeout_hint = 5000;
  h.timestamp = kD;

  MonitoredItemCreateRequest item;
  item.item_to_monitor.node_id = NodeId::String(1, "Line1.Temperature");
  item.requested_parameters = {1, 100, ToExtensionObject(DataChangeFilter{DataChangeTrigger::kStatusValue,
                                                                          DeadbandType::kAbsolute, 0.5}),
                               10, true};
  reqs.emplace_back("monitored", EncodeServiceBody(CreateMonitoredItemsRequest{h, 9, TimestampsToReturn::kBoth, {item}}));
  reqs.emplace_back("publish", EncodeServiceBody(PublishRequest{h, {{9, 4}, {9, 5}}}));
  BrowseRequest br;
  br.request_header = h;
  br.requested_max_references_per_node = 100;
  br.nodes_to_browse = {BrowseDescription{NodeId::Numeric(0, 85)}};
  reqs.emplace_back("browse", EncodeServiceBody(br));
  reqs.emplace_back("browsenext", EncodeServiceBody(BrowseNextRequest{h, true, {"cp1"}}));
  BrowsePath path{NodeId::Numeric(0, 85), {{{NodeId::Numeric(0, 35), false, true, QualifiedName{1, "Line1"}}}}};
  reqs.emplace_back("translate", EncodeServiceBody(TranslateBrowsePathsToNodeIdsRequest{h, {path}}));
  reqs.emplace_back("subscription", EncodeServiceBody(CreateSubscriptionRequest{h, 100, 600, 20, 1000, true, 5}));
  reqs.emplace_back("modify", EncodeServiceBody(ModifySubscriptionRequest{h, 9, 250, 600, 20, 0, 1}));
  reqs.emplace_back("delsub", EncodeServiceBody(DeleteSubscriptionsRequest{h, {9, 10}}));
  reqs.emplace_back("delmon", EncodeServiceBody(DeleteMonitoredItemsRequest{h, 9, {1, 2}}));
  reqs.emplace_back("republish", EncodeServiceBody(RepublishRequest{h, 9, 4}));
  reqs.emplace_back("transfer", EncodeServiceBody(TransferSubscriptionsRequest{h, {9}, true}));
  ActivateSessionRequest as;
  as.request_header = h;
  as.locale_ids = {"en"};
  as.user_identity_token = ToExtensionObject(UserNameIdentityToken{"username", "op", "pw", ""});
  reqs.emplace_back("activate", EncodeServiceBody(as));
  reqs.emplace_back("closesession", EncodeServiceBody(CloseSessionRequest{h, true}));
  reqs.emplace_back("read", EncodeServiceBody(ReadRequest{h, 0, TimestampsToReturn::kSource,
                                                          {{NodeId::String(1, "Line1.Counter"), attribute::kValue, "", {}}}}));
  OpenSecureChannelRequest osc;
  osc.request_header = h;
  osc.request_type = SecurityTokenRequestType::kRenew;
  osc.requested_lifetime = 10000;
  reqs.emplace_back("opensc", EncodeServiceBody(osc));

  testing::TempDir dir;
  std::string input = dir.path() + "/in.txt";
  {
    std::ofstream f(input);
    for (auto& [name, body] : reqs) f << name << " " << ToHex(body) << "\n";
  }
  std::string out;
  int rc = testing::Run(fmt::format("NODE_PATH={}/node_modules node {} decode < {}", PeersHome(), Script(), input), &out);
  ASSERT_EQ(rc, 0) << out;
  std::map<std::string, nlohmann::json> got;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("case")) continue;
    got[j["case"]] = j;
  }
  ASSERT_EQ(got.size(), reqs.size()) << out;
  for (auto& [name, j] : got) {
    EXPECT_FALSE(j.contains("error")) << name << ": " << j.dump();
    EXPECT_EQ(j.value("consumed", false), true) << name << " left bytes unread: " << j.dump();
    EXPECT_EQ(j["value"]["requestHeader"]["requestHandle"], 17) << name;
    EXPECT_EQ(j["value"]["requestHeader"]["timestamp"], "2024-01-02T03:04:05.678Z") << name;
    EXPECT_EQ(j["value"]["requestHeader"]["timeoutHint"], 5000) << name;
  }
  const auto& mon = got["monitored"]["value"];
  EXPECT_EQ(got["monitored"]["type"], "CreateMonitoredItemsRequest");
  EXPECT_EQ(mon["subscriptionId"], 9);
  EXPECT_EQ(mon["timestampsToReturn"], "Both");
  const auto& it = mon["itemsToCreate"][0];
  EXPECT_EQ(it["itemToMonitor"]["nodeId"], "ns=1;s=Line1.Temperature");
  EXPECT_EQ(it["itemToMonitor"]["attributeId"], 13);
  EXPECT_EQ(it["monitoringMode"], "Reporting");
  EXPECT_EQ(it["requestedParameters"]["samplingInterval"], 100);
  EXPECT_EQ(it["requestedParameters"]["queueSize"], 10);
  EXPECT_EQ(it["requestedParameters"]["filter"]["trigger"], "StatusValue");
  EXPECT_EQ(it["requestedParameters"]["filter"]["deadbandType"], 1);
  EXPECT_EQ(it["requestedParameters"]["filter"]["deadbandValue"], 0.5);

  const auto& pub = got["publish"]["value"]["subscriptionAcknowledgements"];
  ASSERT_EQ(pub.size(), 2u);
  EXPECT_EQ(pub[1]["sequenceNumber"], 5);

  const auto& b = got["browse"]["value"];
  EXPECT_EQ(b["requestedMaxReferencesPerNode"], 100);
  EXPECT_EQ(b["nodesToBrowse"][0]["nodeId"], "ns=0;i=85");
  EXPECT_EQ(b["nodesToBrowse"][0]["referenceTypeId"], "ns=0;i=33");
  EXPECT_EQ(b["nodesToBrowse"][0]["includeSubtypes"], true);
  EXPECT_EQ(b["nodesToBrowse"][0]["resultMask"], 63);
  EXPECT_EQ(got["browsenext"]["value"]["releaseContinuationPoints"], true);

  const auto& tp = got["translate"]["value"]["browsePaths"][0];
  EXPECT_EQ(tp["startingNode"], "ns=0;i=85");
  EXPECT_EQ(tp["relativePath"]["elements"][0]["targetName"]["name"], "Line1");
  EXPECT_EQ(tp["relativePath"]["elements"][0]["targetName"]["namespaceIndex"], 1);

  const auto& cs = got["subscription"]["value"];
  EXPECT_EQ(cs["requestedPublishingInterval"], 100);
  EXPECT_EQ(cs["requestedLifetimeCount"], 600);
  EXPECT_EQ(cs["requestedMaxKeepAliveCount"], 20);
  EXPECT_EQ(cs["maxNotificationsPerPublish"], 1000);
  EXPECT_EQ(cs["publishingEnabled"], true);
  EXPECT_EQ(cs["priority"], 5);
  EXPECT_EQ(got["modify"]["value"]["requestedPublishingInterval"], 250);
  EXPECT_EQ(got["modify"]["value"]["priority"], 1);
  EXPECT_EQ(got["delsub"]["value"]["subscriptionIds"], nlohmann::json::array({9, 10}));
  EXPECT_EQ(got["delmon"]["value"]["monitoredItemIds"], nlohmann::json::array({1, 2}));
  EXPECT_EQ(got["republish"]["value"]["retransmitSequenceNumber"], 4);
  EXPECT_EQ(got["transfer"]["value"]["sendInitialValues"], true);
  const auto& tok = got["activate"]["value"]["userIdentityToken"];
  EXPECT_EQ(tok["userName"], "op");
  EXPECT_EQ(tok["policyId"], "username");
  EXPECT_EQ(got["closesession"]["value"]["deleteSubscriptions"], true);
  EXPECT_EQ(got["read"]["value"]["nodesToRead"][0]["nodeId"], "ns=1;s=Line1.Counter");
  EXPECT_EQ(got["read"]["value"]["timestampsToReturn"], "Source");
  EXPECT_EQ(got["opensc"]["value"]["requestType"], "Renew");
  EXPECT_EQ(got["opensc"]["value"]["requestedLifetime"], 10000);
}

}  // namespace
}  // namespace pf::opcua
