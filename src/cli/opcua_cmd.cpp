#include "cli/opcua_cmd.h"

#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "connect/opcua/client.h"
#include "connect/opcua/pki.h"

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
  if (a.command == "read" && a.nodes.empty()) {
    err << "error: read: give at least one --node (e.g. --node \"ns=1;s=Line1.Counter\")\n";
    return kExitBadInput;
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
  int rc = args.command == "browse" ? Browse(**c, args, nodes, out, err) : Read(**c, args, nodes, out, err);
  (*c)->Close();
  return rc;
}

void AddOpcuaCommands(CLI::App& app) {
  CLI::App* ua = app.add_subcommand("opcua", "OPC UA commissioning tools");
  ua->require_subcommand(1);
  for (const char* name : {"endpoints", "browse", "read"}) {
    const std::string cmd = name;
    const char* help = cmd == "endpoints" ? "list the server's endpoints (security, login types, certificate)"
                       : cmd == "browse"  ? "list the children of nodes (default Objects, i=85)"
                                          : "read the Value of nodes once";
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
