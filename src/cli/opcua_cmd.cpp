#include "cli/opcua_cmd.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <iostream>
#include <memory>
#include <mutex>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "connect/opcua/client.h"
#include "connect/opcua/monitor.h"
#include "connect/opcua/pki.h"
#include "connect/opcua/subscription.h"

namespace pf {
namespace {

using namespace pf::opcua;
using nlohmann::json;

constexpr int kExitBadInput = 2;
constexpr int kExitServer = 1;

std::string_view ModeName(MessageSecurityMode m) {
  switch (m) {
    case MessageSecurityMode::kNone: return "None";
    case MessageSecurityMode::kSign: return "Sign";
    case MessageSecurityMode::kSignAndEncrypt: return "SignAndEncrypt";
    default: return "Invalid";
  }
}
std::string_view TokenName(UserTokenType t) {
  switch (t) {
    case UserTokenType::kAnonymous: return "Anonymous";
    case UserTokenType::kUserName: return "UserName";
    case UserTokenType::kCertificate: return "Certificate";
    case UserTokenType::kIssuedToken: return "IssuedToken";
  }
  return "?";
}
std::string_view ClassName(NodeClass c) {
  switch (c) {
    case NodeClass::kObject: return "Object";
    case NodeClass::kVariable: return "Variable";
    case NodeClass::kMethod: return "Method";
    case NodeClass::kObjectType: return "ObjectType";
    case NodeClass::kVariableType: return "VariableType";
    case NodeClass::kReferenceType: return "ReferenceType";
    case NodeClass::kDataType: return "DataType";
    case NodeClass::kView: return "View";
    default: return "Unspecified";
  }
}
std::string PolicyShort(const std::string& uri) { return uri.substr(uri.find('#') + 1); }

std::string Iso(int64_t ticks) { return ScalarToString(BuiltinType::kDateTime, Scalar{ticks}); }

int Endpoints(const OpcuaArgs& a, std::ostream& out, std::ostream& err) {
  auto eps = Client::GetEndpoints(a.endpoint, std::chrono::milliseconds(a.timeout_ms));
  if (!eps.ok()) {
    err << "error: " << eps.status().message() << "\n";
    return kExitServer;
  }
  json arr = json::array();
  for (const EndpointDescription& e : *eps) {
    std::vector<std::string> tokens;
    for (const UserTokenPolicy& t : e.user_identity_tokens) tokens.emplace_back(TokenName(t.token_type));
    std::string thumb = e.server_certificate.empty() ? "" : ThumbprintHex(AsBytes(e.server_certificate));
    if (a.json) {
      arr.push_back({{"endpoint_url", e.endpoint_url}, {"security_policy", e.security_policy_uri},
                     {"security_mode", ModeName(e.security_mode)}, {"security_level", e.security_level},
                     {"user_tokens", tokens}, {"application_uri", e.server.application_uri},
                     {"certificate_thumbprint", thumb}});
    } else {
      std::string tl;
      for (const auto& t : tokens) tl += (tl.empty() ? "" : ",") + t;
      out << fmt::format("{}  {} {}  level {}  users {}  {}{}\n", e.endpoint_url, PolicyShort(e.security_policy_uri),
                         ModeName(e.security_mode), e.security_level, tl, e.server.application_uri,
                         thumb.empty() ? "" : "  cert " + thumb);
    }
  }
  if (a.json) out << arr.dump(2) << "\n";
  return 0;
}

int Browse(Client& c, const OpcuaArgs& a, const std::vector<NodeId>& nodes, std::ostream& out, std::ostream& err) {
  std::vector<BrowseDescription> desc;
  for (const NodeId& n : nodes) {
    BrowseDescription d;
    d.node_id = n;
    desc.push_back(d);
  }
  auto r = c.Browse(desc);
  if (!r.ok()) {
    err << "error: " << r.status().message() << "\n";
    return kExitServer;
  }
  json all = json::array();
  int rc = 0;
  for (size_t i = 0; i < r->size(); ++i) {
    const BrowseResult& br = (*r)[i];
    json refs = json::array();
    if (br.status_code.IsBad()) {
      err << fmt::format("error: browse {}: {}\n", nodes[i].ToString(), br.status_code.Name());
      rc = kExitServer;
    } else if (!a.json) {
      out << nodes[i].ToString() << ":\n";
    }
    for (const ReferenceDescription& ref : br.references) {
      std::string id = ref.node_id.ToString();
      if (a.json) {
        refs.push_back({{"browse_name", ref.browse_name.name}, {"browse_ns", ref.browse_name.ns}, {"node_id", id},
                        {"node_class", ClassName(ref.node_class)},
                        {"display_name", ref.display_name.text.value_or("")}});
      } else {
        out << fmt::format("  {:<30} {:<40} {}\n", ref.browse_name.name, id, ClassName(ref.node_class));
      }
    }
    all.push_back({{"node", nodes[i].ToString()}, {"status", br.status_code.Name()}, {"references", refs}});
  }
  if (a.json) out << all.dump(2) << "\n";
  return rc;
}

int Read(Client& c, const OpcuaArgs& a, const std::vector<NodeId>& nodes, std::ostream& out, std::ostream& err) {
  std::vector<ReadValueId> ids;
  for (const NodeId& n : nodes) ids.push_back(ReadValueId{n, attribute::kValue, "", {}});
  auto r = c.Read(ids);
  if (!r.ok()) {
    err << "error: " << r.status().message() << "\n";
    return kExitServer;
  }
  json all = json::array();
  int rc = 0;
  for (size_t i = 0; i < r->size(); ++i) {
    const DataValue& v = (*r)[i];
    const opcua::StatusCode st = v.status.value_or(opcua::StatusCode{});
    if (st.IsBad()) rc = kExitServer;
    const std::string type = v.value ? std::string(BuiltinTypeName(v.value->type)) + (v.value->is_array ? "[]" : "") : "";
    const std::string value = v.value ? VariantToString(*v.value) : "";
    const std::string ts = v.source_timestamp ? Iso(*v.source_timestamp) : (v.server_timestamp ? Iso(*v.server_timestamp) : "");
    if (a.json) {
      all.push_back({{"node", nodes[i].ToString()}, {"requested", a.nodes[i]}, {"type", type}, {"value", value},
                     {"status", st.Name()}, {"timestamp", ts}});
    } else {
      out << fmt::format("{}  {}  {}  {}  {}\n", a.nodes[i], type, value, st.Name(), ts);
    }
  }
  if (a.json) out << all.dump(2) << "\n";
  return rc;
}

// A scalar number or boolean as a JSON number/bool; anything else as its display text.
json ValueJson(const Variant& v) {
  if (!v.is_array && v.values.size() == 1) {
    const Scalar& s = v.values[0];
    if (const bool* b = std::get_if<bool>(&s)) return *b;
    if (const double* d = std::get_if<double>(&s)) return std::isfinite(*d) ? json(*d) : json(VariantToString(v));
    if (const float* f = std::get_if<float>(&s)) return std::isfinite(*f) ? json(*f) : json(VariantToString(v));
    if (v.type != BuiltinType::kDateTime) {
      if (const int64_t* i = std::get_if<int64_t>(&s)) return *i;
    }
    if (const uint64_t* u = std::get_if<uint64_t>(&s)) return *u;
    if (const int32_t* i = std::get_if<int32_t>(&s)) return *i;
    if (const uint32_t* u = std::get_if<uint32_t>(&s)) return *u;
    if (const int16_t* i = std::get_if<int16_t>(&s)) return *i;
    if (const uint16_t* u = std::get_if<uint16_t>(&s)) return *u;
    if (const int8_t* i = std::get_if<int8_t>(&s)) return *i;
    if (const uint8_t* u = std::get_if<uint8_t>(&s)) return *u;
  }
  return VariantToString(v);
}

// Through Monitor (monitor.h): the subscription survives network breaks and server restarts. Data lines go
// to `out`; lost ranges too (text: "GAP node from to reason", JSON: {"event":"gap",...} per node), since a
// reader of the values must see them; connection state changes go to `err`. A failure before the first
// connection ends the command (exit 1): a wrong endpoint is reported at once, not retried.
int Subscribe(const OpcuaArgs& a, const ClientOptions& client, std::ostream& out, std::ostream& err) {
  MonitorOptions mo;
  mo.client = client;
  mo.subscription.publishing_interval_ms = a.publishing_ms;
  // Keep-alive at least every ~second; lifetime >= 60 s so that a subscription outlives a short break.
  mo.subscription.max_keep_alive_count = std::max<uint32_t>(1, static_cast<uint32_t>(std::ceil(1000.0 / a.publishing_ms)));
  mo.subscription.lifetime_count = std::max<uint32_t>(3 * mo.subscription.max_keep_alive_count,
                                                      static_cast<uint32_t>(std::ceil(60000.0 / a.publishing_ms)));
  for (const std::string& n : a.nodes) {
    MonitorItemSpec it;
    it.node = n;
    it.sampling_interval_ms = a.sampling_ms;
    it.queue_size = 100;  // values kept by the server while the connection is down
    mo.items.push_back(it);
  }
  std::mutex mu;  // callbacks run on the Monitor's thread
  std::condition_variable cv;
  bool connected_once = false, give_up = false;
  int rc = 0;
  std::vector<bool> bad(a.nodes.size(), false);
  MonitorCallbacks cb;
  cb.on_data = [&](std::vector<DataChange>&& changes) {
    std::lock_guard<std::mutex> l(mu);
    for (const DataChange& d : changes) {
      const DataValue& v = d.value;
      const std::string src = v.source_timestamp ? Iso(*v.source_timestamp) : "";
      const std::string srv = v.server_timestamp ? Iso(*v.server_timestamp) : "";
      const std::string st = v.status.value_or(opcua::StatusCode{}).Name();
      const std::string& name = a.nodes[d.client_handle];
      if (a.json) {
        json j = {{"node", name}, {"source_time", src}, {"server_time", srv},
                  {"value", v.value ? ValueJson(*v.value) : json(nullptr)},
                  {"type", v.value ? std::string(BuiltinTypeName(v.value->type)) : ""}, {"status", st}};
        out << j.dump() << "\n";
      } else {
        out << fmt::format("{}  {}  {}  {}  {}\n", name, src, srv, v.value ? VariantToString(*v.value) : "", st);
      }
    }
    out.flush();
  };
  cb.on_gap = [&](const MonitorGap& g) {
    std::lock_guard<std::mutex> l(mu);
    const std::string from = FormatRfc3339(g.from), to = FormatRfc3339(g.to);
    for (uint32_t h : g.handles) {
      if (a.json) {
        out << json{{"event", "gap"}, {"node", a.nodes[h]}, {"from", from}, {"to", to}, {"reason", g.reason}}.dump() << "\n";
      } else {
        out << fmt::format("GAP  {}  {}  {}  {}\n", a.nodes[h], from, to, g.reason);
      }
    }
    out.flush();
    rc = kExitServer;
  };
  // Only what happens after the first connection is printed: breaks and recoveries.
  cb.on_state = [&](MonitorState s, const std::string& m) {
    std::lock_guard<std::mutex> l(mu);
    if (!connected_once) {
      if (s == MonitorState::kConnected) connected_once = true;
      if (s == MonitorState::kDisconnected) {
        err << "error: " << m << "\n";
        rc = kExitServer;
        give_up = true;
        cv.notify_all();
      }
      return;
    }
    if (s == MonitorState::kStopped) return;
    if (a.json) {
      err << json{{"event", "state"}, {"state", MonitorStateName(s)}, {"message", m}, {"time", FormatRfc3339(Now())}}.dump() << "\n";
    } else {
      err << fmt::format("{}  {}: {}\n", FormatRfc3339(Now()), MonitorStateName(s), m);
    }
  };
  cb.on_item_error = [&](uint32_t h, opcua::StatusCode st, const std::string& m) {
    std::lock_guard<std::mutex> l(mu);
    err << fmt::format("error: --node '{}': {}\n", a.nodes[h], st.Name());
    rc = kExitServer;
    bad[h] = true;
    if (std::all_of(bad.begin(), bad.end(), [](bool b) { return b; })) {
      give_up = true;
      cv.notify_all();
    }
  };
  auto m = Monitor::Start(std::move(mo), std::move(cb));
  if (!m.ok()) {
    err << "error: " << m.status().message() << "\n";
    return kExitBadInput;
  }
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait_for(l, std::chrono::milliseconds(static_cast<int64_t>(a.duration_s * 1000)), [&] { return give_up; });
  }
  (*m)->Stop();
  std::lock_guard<std::mutex> l(mu);
  return rc;
}

}  // namespace

int RunOpcua(const OpcuaArgs& a, std::ostream& out, std::ostream& err) {
  if (auto u = ParseEndpointUrl(a.endpoint); !u.ok()) {
    err << "error: " << u.status().message() << "\n";
    return kExitBadInput;
  }
  auto sec = ParseSecurity(a.security);
  if (!sec.ok()) {
    err << "error: --security: " << sec.status().message() << "\n";
    return kExitBadInput;
  }
  if (a.has_user != a.has_password) {
    err << "error: --user and --password go together\n";
    return kExitBadInput;
  }
  if (a.timeout_ms <= 0) {
    err << "error: --timeout-ms must be positive, got " << a.timeout_ms << "\n";
    return kExitBadInput;
  }
  if (a.command == "endpoints") return Endpoints(a, out, err);
  if ((a.command == "read" || a.command == "subscribe") && a.nodes.empty()) {
    err << "error: " << a.command << ": give at least one --node (e.g. --node \"ns=1;s=Line1.Counter\")\n";
    return kExitBadInput;
  }
  if (a.command == "subscribe") {
    if (!(a.sampling_ms >= 0)) {
      err << "error: --sampling-ms must be >= 0, got " << a.sampling_ms << "\n";
      return kExitBadInput;
    }
    if (!(a.publishing_ms > 0)) {
      err << "error: --publishing-ms must be positive, got " << a.publishing_ms << "\n";
      return kExitBadInput;
    }
    if (!(a.duration_s > 0)) {
      err << "error: --duration-s must be positive, got " << a.duration_s << "\n";
      return kExitBadInput;
    }
  }
  std::vector<ExpandedNodeId> parsed;
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    auto n = ParseExpandedNodeId(a.nodes[i]);
    if (!n.ok()) {
      err << fmt::format("error: --node #{} '{}': {}\n", i + 1, a.nodes[i], n.status().message());
      return kExitBadInput;
    }
    parsed.push_back(*n);
  }
  OpcuaArgs args = a;
  if (args.command == "browse" && parsed.empty()) {
    parsed.push_back(ExpandedNodeId{NodeId::Numeric(0, 85), "", 0});  // Objects
    args.nodes.push_back("i=85");
  }
  ClientOptions o;
  o.endpoint_url = a.endpoint;
  o.security = *sec;
  o.pki_dir = a.pki;
  o.timeout = std::chrono::milliseconds(a.timeout_ms);
  if (a.has_user) {
    o.user = a.user;
    o.password = a.password;
  }
  if (args.command == "subscribe") return Subscribe(args, o, out, err);
  auto c = Client::Connect(o);
  if (!c.ok()) {
    err << "error: " << c.status().message() << "\n";
    return kExitServer;
  }
  std::vector<NodeId> nodes;
  for (size_t i = 0; i < parsed.size(); ++i) {
    auto n = (*c)->Resolve(parsed[i]);
    if (!n.ok()) {
      err << fmt::format("error: --node #{} '{}': {}\n", i + 1, args.nodes[i], n.status().message());
      return kExitBadInput;
    }
    nodes.push_back(*n);
  }
  int rc = args.command == "browse"      ? Browse(**c, args, nodes, out, err)
                                         : Read(**c, args, nodes, out, err);
  (*c)->Close();
  return rc;
}

void AddOpcuaCommands(CLI::App& app) {
  CLI::App* ua = app.add_subcommand("opcua", "OPC UA commissioning tools");
  ua->require_subcommand(1);
  for (const char* name : {"endpoints", "browse", "read", "subscribe"}) {
    const std::string cmd = name;
    const char* help = cmd == "endpoints" ? "list the server's endpoints (security, login types, certificate)"
                       : cmd == "browse"  ? "list the children of nodes (default Objects, i=85)"
                       : cmd == "read"    ? "read the Value of nodes once"
                                          : "subscribe to the Value of nodes and print each data change";
    CLI::App* sub = ua->add_subcommand(cmd, help);
    auto args = std::make_shared<OpcuaArgs>();
    args->command = cmd;
    sub->add_option("--endpoint", args->endpoint, "opc.tcp://HOST:PORT/PATH")->required();
    if (cmd != "endpoints") {
      sub->add_option("--security", args->security, "none, sign or encrypt (Basic256Sha256)")->capture_default_str();
      sub->add_option("--user", args->user, "user name (with --password)");
      sub->add_option("--password", args->password, "password");
      sub->add_option("--pki", args->pki, "certificate store folder")->capture_default_str();
      sub->add_option("--node", args->nodes, "node id: ns=1;s=x, i=85, nsu=URI;s=x (repeatable)");
    }
    if (cmd == "subscribe") {
      sub->add_option("--sampling-ms", args->sampling_ms, "sampling interval (ms)")->capture_default_str();
      sub->add_option("--publishing-ms", args->publishing_ms, "publishing interval (ms)")->capture_default_str();
      sub->add_option("--duration-s", args->duration_s, "how long to listen (s)")->capture_default_str();
    }
    sub->add_option("--timeout-ms", args->timeout_ms, "timeout per request")->capture_default_str();
    sub->add_flag("--json", args->json, "print JSON");
    sub->callback([args, sub] {
      if (args->command != "endpoints") {
        args->has_user = sub->count("--user") > 0;
        args->has_password = sub->count("--password") > 0;
      }
      std::exit(RunOpcua(*args, std::cout, std::cerr));
    });
  }
}

}  // namespace pf
