// Conformance reads against node-opcua, checked by an independent reader.
//
// CTT: the shared peer with OPCUA_CTT=1 serves node-opcua's conformance-testing address space. The
// test finds its Scalar / Array / Multi-Dimensional folders by browsing (Objects/Simulation/Static/
// All Profiles/{Scalars,Arrays,Multi-Dimensional Arrays} and Objects/CTT/Static/All Profiles/{Scalar,
// Arrays,Multi-Dimensional-Arrays,Structures}), has node-opcua's own client write fixed non-trivial
// values into the static scalars and arrays (tests/support/opcua_dump.js seed: integer extremes,
// Int64 beyond 2^53, non-ASCII text, a DateTime with 100 ns digits, every NodeId kind, nested Variants
// and DataValues, a Range ExtensionObject), then reads every variable with plantfloor and with
// node-opcua's client (opcua_dump.js read) and compares both in one canonical JSON form (described
// in opcua_dump.js). The decoded built-in type must also be what the node's DataType attribute allows:
// the DataType is followed up its HasSubtype chain to a built-in type (Duration -> Double, Image ->
// ByteString, Range -> Structure -> ExtensionObject; Number/Integer/UInteger: any numeric of that kind;
// BaseDataType: anything).
//
// Own server (tests/support/opcua_test_server.js): ExpandedNodeId and StatusCode (absent from the CTT
// nodes), SecurityMode Sign only (Basic256Sha256), and user name / password login.
//
// Skips (77) without node, node-opcua and its conformance-testing package, or ../shared/peers.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "connect/opcua/client.h"
#include "connect/opcua/pki.h"
#include "connect/opcua/subscription.h"
#include "testing.h"

extern char** environ;

namespace pf::opcua {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string PeersHome() {
  const char* h = std::getenv("PEERS_HOME");
  return h ? h : "/tmp/plantfloor-peers";
}
fs::path SupportDir() { return fs::path(__FILE__).parent_path().parent_path().parent_path().parent_path() / "tests/support"; }

void RequireNode(const std::string& package) {
  testing::RequireOrSkip(PeersHome() + "/node_modules/" + package, package + " (peers.sh install)");
  if (testing::Run("node --version") != 0) {
    std::cerr << "SKIPPED: node not installed\n";
    std::exit(testing::kSkipReturnCode);
  }
}

// ---- the canonical form of opcua_dump.js, built from plantfloor's decoded values ----

std::string Hex(std::string_view s) {
  std::string out;
  for (char c : s) out += fmt::format("{:02x}", static_cast<uint8_t>(c));
  return out;
}

json Canon(const NodeId& n) {
  switch (n.type) {
    case IdType::kNumeric: return {{"ns", n.ns}, {"t", "i"}, {"id", n.numeric}};
    case IdType::kString: return {{"ns", n.ns}, {"t", "s"}, {"id", n.text}};
    case IdType::kGuid: return {{"ns", n.ns}, {"t", "g"}, {"id", n.guid.ToString()}};
    case IdType::kOpaque: return {{"ns", n.ns}, {"t", "b"}, {"id", Hex(n.text)}};
  }
  return nullptr;
}

json Ms(const std::optional<int64_t>& ticks) {
  if (!ticks) return nullptr;
  return *ticks / 10000 - kUnixEpochTicks / 10000;
}

json Real(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
  return x;
}

json CanonVariant(const Variant& v);

json CanonDiagnostic(const DiagnosticInfo& d) {
  json o = json::object();
  if (d.symbolic_id) o["symbolicId"] = *d.symbolic_id;
  if (d.namespace_uri) o["namespaceUri"] = *d.namespace_uri;
  if (d.locale) o["locale"] = *d.locale;
  if (d.localized_text) o["localizedText"] = *d.localized_text;
  if (d.additional_info) o["additionalInfo"] = *d.additional_info;
  if (d.inner_status_code && d.inner_status_code->code != 0) o["innerStatusCode"] = d.inner_status_code->code;
  if (d.inner) o["inner"] = CanonDiagnostic(*d.inner);
  return o;
}

json CanonDataValue(const DataValue& d) {
  return {{"value", d.value && !d.value->IsNull() ? CanonVariant(*d.value) : json(nullptr)},
          {"status", d.status ? d.status->code : 0u},
          {"sourceMs", Ms(d.source_timestamp)},
          {"serverMs", Ms(d.server_timestamp)}};
}

// The element as the Variant's type says it must be held; a wrong C++ alternative is reported as such.
template <typename T, typename F>
json As(const Scalar& s, F f) {
  const T* p = std::get_if<T>(&s);
  if (!p) return fmt::format("<decoder held alternative #{} instead>", s.index());
  return f(*p);
}

json Element(BuiltinType t, const Scalar& s) {
  auto same = [](const auto& x) { return json(x); };
  switch (t) {
    case BuiltinType::kBoolean: return As<bool>(s, same);
    case BuiltinType::kSByte: return As<int8_t>(s, same);
    case BuiltinType::kByte: return As<uint8_t>(s, same);
    case BuiltinType::kInt16: return As<int16_t>(s, same);
    case BuiltinType::kUInt16: return As<uint16_t>(s, same);
    case BuiltinType::kInt32: return As<int32_t>(s, same);
    case BuiltinType::kUInt32: return As<uint32_t>(s, same);
    case BuiltinType::kInt64: return As<int64_t>(s, [](int64_t x) { return json(std::to_string(x)); });
    case BuiltinType::kUInt64: return As<uint64_t>(s, [](uint64_t x) { return json(std::to_string(x)); });
    case BuiltinType::kFloat: return As<float>(s, [](float x) { return Real(x); });
    case BuiltinType::kDouble: return As<double>(s, [](double x) { return Real(x); });
    case BuiltinType::kString:
    case BuiltinType::kXmlElement: return As<std::string>(s, same);
    case BuiltinType::kDateTime: return As<int64_t>(s, [](int64_t x) { return json(std::to_string(x)); });
    case BuiltinType::kGuid: return As<Guid>(s, [](const Guid& g) { return json(g.ToString()); });
    case BuiltinType::kByteString: return As<std::string>(s, [](const std::string& b) { return json(Hex(b)); });
    case BuiltinType::kNodeId: return As<NodeId>(s, [](const NodeId& n) { return Canon(n); });
    case BuiltinType::kExpandedNodeId:
      return As<ExpandedNodeId>(s, [](const ExpandedNodeId& x) {
        json o = Canon(x.node);
        o["uri"] = x.namespace_uri;
        o["server"] = x.server_index;
        return o;
      });
    case BuiltinType::kStatusCode: return As<StatusCode>(s, [](StatusCode c) { return json(c.code); });
    case BuiltinType::kQualifiedName:
      return As<QualifiedName>(s, [](const QualifiedName& q) { return json{{"ns", q.ns}, {"name", q.name}}; });
    case BuiltinType::kLocalizedText:
      return As<LocalizedText>(s, [](const LocalizedText& l) {
        return json{{"locale", l.locale ? json(*l.locale) : json(nullptr)}, {"text", l.text ? json(*l.text) : json(nullptr)}};
      });
    case BuiltinType::kExtensionObject:
      return As<ExtensionObject>(s, [](const ExtensionObject& x) {
        if (x.encoding == ExtensionObject::Encoding::kNone && x.type_id.IsNull()) return json(nullptr);
        return json{{"typeId", Canon(x.type_id)}, {"body", Hex(x.body)}};
      });
    case BuiltinType::kDataValue:
      return As<std::shared_ptr<DataValue>>(s, [](const std::shared_ptr<DataValue>& d) {
        return d ? CanonDataValue(*d) : json("<null DataValue>");
      });
    case BuiltinType::kVariant:
      return As<std::shared_ptr<Variant>>(s, [](const std::shared_ptr<Variant>& v) {
        return v ? CanonVariant(*v) : json("<null Variant>");
      });
    case BuiltinType::kDiagnosticInfo: return As<DiagnosticInfo>(s, CanonDiagnostic);
    case BuiltinType::kNull: break;
  }
  return "<no canonical form>";
}

json CanonVariant(const Variant& v) {
  json o{{"type", std::string(BuiltinTypeName(v.type))}, {"array", v.is_array}};
  if (!v.dimensions.empty()) o["dims"] = v.dimensions;
  if (v.is_array) {
    json a = json::array();
    for (const Scalar& s : v.values) a.push_back(Element(v.type, s));
    o["value"] = a;
  } else {
    o["value"] = v.values.empty() ? json("<scalar without value>") : Element(v.type, v.values[0]);
  }
  return o;
}

// ---- node-opcua's side ----

// Runs opcua_dump.js MODE with `ids` on stdin; returns its JSON output (stderr is only shown on failure).
json NodeDump(const std::string& url, const std::string& mode, const std::vector<std::string>& ids,
              const std::string& dir, const std::string& env = "") {
  const std::string in = dir + "/" + mode + ".in", out = dir + "/" + mode + ".json";
  {
    std::ofstream f(in);
    for (const auto& id : ids) f << id << "\n";
  }
  std::string log;
  const int rc = testing::Run(fmt::format("{} node '{}' '{}' {} < '{}' > '{}'", env, (SupportDir() / "opcua_dump.js").string(),
                                          url, mode, in, out), &log);
  EXPECT_EQ(rc, 0) << log;
  std::ifstream f(out);
  json j = json::parse(f, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "opcua_dump.js " << mode << " printed no JSON:\n" << log;
  return j;
}

// ---- plantfloor's side ----

Result<NodeId> Child(Client& c, const NodeId& parent, const std::string& name) {
  PF_ASSIGN_OR_RETURN(auto refs, c.BrowseChildren(parent));
  for (const auto& r : refs) {
    if (r.browse_name.name == name) return c.Resolve(r.node_id);
  }
  return NotFound("no child '{}' under {}", name, parent.ToString());
}

Result<NodeId> Path(Client& c, const std::vector<std::string>& names) {
  NodeId n = NodeId::Numeric(0, 85);  // Objects
  for (const auto& name : names) {
    PF_ASSIGN_OR_RETURN(n, Child(c, n, name));
  }
  return n;
}

// What the DataType allows: a list of built-in types, or empty for "any" (BaseDataType).
struct Allowed {
  std::vector<BuiltinType> types;
  std::string chain;  // e.g. "i=884 > i=22"
};

Result<Allowed> AllowedTypes(Client& c, NodeId dt) {
  using B = BuiltinType;
  Allowed a;
  for (int depth = 0; depth < 16; ++depth) {
    a.chain += (a.chain.empty() ? "" : " > ") + dt.ToString();
    if (dt.ns == 0 && dt.type == IdType::kNumeric) {
      const uint32_t id = dt.numeric;
      if (id == 24) return a;  // BaseDataType
      if (id == 26) { a.types = {B::kSByte, B::kByte, B::kInt16, B::kUInt16, B::kInt32, B::kUInt32, B::kInt64, B::kUInt64, B::kFloat, B::kDouble}; return a; }
      if (id == 27) { a.types = {B::kSByte, B::kInt16, B::kInt32, B::kInt64}; return a; }
      if (id == 28) { a.types = {B::kByte, B::kUInt16, B::kUInt32, B::kUInt64}; return a; }
      if (id == 29) { a.types = {B::kInt32}; return a; }  // Enumeration
      if (id >= 1 && id <= 25) { a.types = {static_cast<B>(id)}; return a; }
    }
    BrowseDescription d;
    d.node_id = dt;
    d.browse_direction = BrowseDirection::kInverse;
    d.reference_type_id = NodeId::Numeric(0, 45);  // HasSubtype
    d.include_subtypes = false;
    PF_ASSIGN_OR_RETURN(auto r, c.Browse({d}));
    if (r.at(0).references.empty()) return NotFound("DataType {} has no supertype (chain {})", dt.ToString(), a.chain);
    PF_ASSIGN_OR_RETURN(dt, c.Resolve(r[0].references[0].node_id));
  }
  return OutOfRange("DataType chain too deep: {}", a.chain);
}

struct Row {
  std::string node;
  std::string shape;     // scalar | array | matrix
  std::string decoded;   // built-in type plantfloor decoded
  bool type_ok = false;
  bool value_ok = false;
};

// Reads `ids` with plantfloor and with node-opcua, compares; returns one row per node.
std::vector<Row> CompareReads(Client& c, const std::string& url, const std::vector<NodeId>& ids, const std::string& dir) {
  std::vector<ReadValueId> items;
  std::vector<std::string> texts;
  for (const NodeId& n : ids) {
    texts.push_back(n.ToString());
    for (uint32_t a : {attribute::kDataType, attribute::kValueRank, attribute::kValue}) items.push_back({n, a, {}, {}});
  }
  auto mine = c.Read(items);
  EXPECT_TRUE(mine.ok()) << mine.status().ToString();
  if (!mine.ok()) return {};
  json theirs = NodeDump(url, "read", texts, dir);
  EXPECT_EQ(theirs.size(), ids.size());
  if (theirs.size() != ids.size()) return {};

  std::map<std::string, Allowed> allowed_cache;
  std::vector<Row> rows;
  for (size_t i = 0; i < ids.size(); ++i) {
    SCOPED_TRACE(texts[i]);
    const DataValue& dt = (*mine)[3 * i];
    const DataValue& rank = (*mine)[3 * i + 1];
    const DataValue& val = (*mine)[3 * i + 2];
    Row row{texts[i], "", "", false, false};
    json m{{"nodeId", texts[i]}, {"status", val.status ? val.status->code : 0u}, {"value", nullptr},
           {"dataType", nullptr}, {"valueRank", nullptr}};
    if (dt.value && dt.value->type == BuiltinType::kNodeId) m["dataType"] = Canon(std::get<NodeId>(dt.value->values.at(0)));
    if (rank.value && rank.value->type == BuiltinType::kInt32) m["valueRank"] = std::get<int32_t>(rank.value->values.at(0));
    if (val.value && !val.value->IsNull()) {
      m["value"] = CanonVariant(*val.value);
      row.decoded = std::string(BuiltinTypeName(val.value->type));
      row.shape = !val.value->is_array ? "scalar" : val.value->dimensions.empty() ? "array" : "matrix";
    }
    row.value_ok = m == theirs[i];
    EXPECT_TRUE(row.value_ok) << "plantfloor and node-opcua differ on " << texts[i] << ":\n"
                              << json::diff(theirs[i], m).dump() << "\nnode-opcua: " << theirs[i].dump().substr(0, 2000)
                              << "\nplantfloor: " << m.dump().substr(0, 2000);
    // The decoded type against the DataType attribute.
    if (dt.value && dt.value->type == BuiltinType::kNodeId && val.value) {
      const NodeId& type_id = std::get<NodeId>(dt.value->values.at(0));
      auto it = allowed_cache.find(type_id.ToString());
      if (it == allowed_cache.end()) {
        auto a = AllowedTypes(c, type_id);
        EXPECT_TRUE(a.ok()) << a.status().ToString();
        it = allowed_cache.emplace(type_id.ToString(), a.ok() ? *a : Allowed{}).first;
      }
      const auto& types = it->second.types;
      row.type_ok = types.empty() || std::find(types.begin(), types.end(), val.value->type) != types.end();
      EXPECT_TRUE(row.type_ok) << texts[i] << ": decoded " << row.decoded << " but DataType is " << it->second.chain;
      // ValueRank -1 scalar, 1 one-dimensional array, 2 matrix.
      const int32_t r = m["valueRank"].is_number() ? m["valueRank"].get<int32_t>() : -3;
      const std::string want = r == -1 ? "scalar" : r == 1 ? "array" : r == 2 ? "matrix" : row.shape;
      EXPECT_EQ(row.shape, want) << "ValueRank " << r;
      if (row.shape != want) row.type_ok = false;
    }
    rows.push_back(row);
  }
  return rows;
}

void PrintReport(const std::vector<Row>& rows) {
  std::map<std::string, std::map<std::string, std::pair<int, int>>> by_type;  // type -> shape -> (ok, all)
  for (const Row& r : rows) {
    std::cout << fmt::format("  {:<62} {:<15} {:<6} {}\n", r.node, r.decoded, r.shape,
                             r.type_ok && r.value_ok ? "ok" : !r.type_ok ? "TYPE MISMATCH" : "VALUE DIFFERS");
    auto& cell = by_type[r.decoded][r.shape];
    cell.second++;
    if (r.type_ok && r.value_ok) cell.first++;
  }
  std::cout << "per built-in type (ok/read): scalar | array | matrix\n";
  for (const auto& [type, shapes] : by_type) {
    auto cell = [&](const char* s) {
      auto it = shapes.find(s);
      return it == shapes.end() ? std::string("-") : fmt::format("{}/{}", it->second.first, it->second.second);
    };
    std::cout << fmt::format("  {:<15} {:>6} | {:>6} | {:>6}\n", type, cell("scalar"), cell("array"), cell("matrix"));
  }
}

std::vector<NodeId> Variables(Client& c, const NodeId& folder) {
  std::vector<NodeId> out;
  auto refs = c.BrowseChildren(folder);
  EXPECT_TRUE(refs.ok()) << refs.status().ToString();
  if (!refs.ok()) return out;
  for (const auto& r : *refs) {
    if (r.node_class != NodeClass::kVariable) continue;
    auto id = c.Resolve(r.node_id);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (id.ok()) out.push_back(*id);
  }
  return out;
}

TEST(OpcuaCtt, EveryBuiltinTypeScalarAndArrayMatchesNodeOpcua) {
  RequireNode("node-opcua-address-space-for-conformance-testing");
  ::setenv("OPCUA_CTT", "1", 1);
  testing::Peer peer("opcua");
  ::unsetenv("OPCUA_CTT");
  ASSERT_TRUE(peer.ok()) << peer.log();
  const std::string url = fmt::format("opc.tcp://127.0.0.1:{}/UA/EdgeTestPeer", peer.port());
  ClientOptions o;
  o.endpoint_url = url;
  auto client = Client::Connect(o);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Client& c = **client;
  testing::TempDir dir;

  // The folders, found by browse name.
  const std::vector<std::string> sim = {"Simulation", "Static", "All Profiles"};
  const std::vector<std::string> ctt = {"CTT", "Static", "All Profiles"};
  std::vector<std::pair<std::string, std::vector<std::string>>> folders = {
      {"seed", {"Scalars"}}, {"seed", {"Arrays"}}, {"sim", {"Multi-Dimensional Arrays"}},
      {"ctt", {"Scalar"}}, {"ctt", {"Arrays"}}, {"ctt", {"Multi-Dimensional-Arrays"}}, {"ctt", {"Structures"}}};
  std::vector<NodeId> to_seed, all;
  std::vector<std::string> folder_texts;
  std::map<std::string, std::set<std::string>> my_children;
  for (const auto& [kind, leaf] : folders) {
    std::vector<std::string> path = kind == "ctt" ? ctt : sim;
    path.insert(path.end(), leaf.begin(), leaf.end());
    auto f = Path(c, path);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    auto vars = Variables(c, *f);
    EXPECT_FALSE(vars.empty()) << f->ToString();
    folder_texts.push_back(f->ToString());
    for (const auto& v : vars) my_children[f->ToString()].insert(v.ToString());
    all.insert(all.end(), vars.begin(), vars.end());
    if (kind == "seed") to_seed.insert(to_seed.end(), vars.begin(), vars.end());
  }
  // node-opcua's browse of the same folders lists the same variables.
  json browsed = NodeDump(url, "browse", folder_texts, dir.path());
  for (const auto& f : folder_texts) {
    std::set<std::string> theirs;
    for (const auto& r : browsed[f]) {
      if (r["nodeClass"] == "Variable") theirs.insert(r["nodeId"].get<std::string>());
    }
    EXPECT_EQ(my_children[f], theirs) << f;
  }

  // Fixed values written by node-opcua's client: every write of a built-in typed node must succeed.
  std::vector<std::string> seed_texts;
  for (const auto& n : to_seed) seed_texts.push_back(n.ToString());
  json seeded = NodeDump(url, "seed", seed_texts, dir.path());
  int good = 0;
  for (const auto& s : seeded) {
    EXPECT_EQ(s["status"], 0) << s.dump();
    good += s["status"] == 0;
  }
  std::cout << "seeded " << good << " of " << seeded.size() << " writable built-in typed nodes\n";
  EXPECT_GE(good, 2 * 23);  // 23 built-in types (all but ExpandedNodeId, StatusCode) x scalar and array

  auto rows = CompareReads(c, url, all, dir.path());
  PrintReport(rows);
  // Coverage: every built-in type the CTT nodes carry, as scalar and as array, compared and ok.
  std::set<std::pair<std::string, std::string>> ok;
  for (const Row& r : rows) {
    if (r.type_ok && r.value_ok) ok.insert({r.decoded, r.shape});
  }
  for (int t = 1; t <= 25; ++t) {
    const auto type = static_cast<BuiltinType>(t);
    if (type == BuiltinType::kExpandedNodeId || type == BuiltinType::kStatusCode) continue;  // own server below
    for (const char* shape : {"scalar", "array"}) {
      EXPECT_TRUE(ok.count({std::string(BuiltinTypeName(type)), shape})) << BuiltinTypeName(type) << " " << shape;
    }
  }
  EXPECT_GE(rows.size(), 100u);
  c.Close();
}

// ---- own server ----

// tests/support/opcua_test_server.js on a free port, stopped (SIGTERM) on destruction.
class TestServer {
 public:
  explicit TestServer(std::vector<std::string> args) : port_(testing::FreePort()) {
    log_ = dir_.path() + "/server.log";
    std::vector<std::string> argv = {"node", (SupportDir() / "opcua_test_server.js").string(), std::to_string(port_),
                                     "--pki", dir_.path() + "/pki"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (posix_spawnp(&pid_, "node", &fa, nullptr, cargv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (pid_ > 0 && std::chrono::steady_clock::now() < end) {
      if (Log().find("READY") != std::string::npos) {
        ready_ = true;
        break;
      }
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ~TestServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int st = 0;
      for (int i = 0; i < 50 && waitpid(pid_, &st, WNOHANG) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (waitpid(pid_, &st, WNOHANG) == 0) {
        ::kill(pid_, SIGKILL);
        waitpid(pid_, &st, 0);
      }
    }
  }
  bool ready() const { return ready_; }
  std::string Log() const {
    std::ifstream f(log_);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }
  std::string url() const { return fmt::format("opc.tcp://127.0.0.1:{}/UA/PlantfloorTest", port_); }

 private:
  testing::TempDir dir_;
  int port_;
  pid_t pid_ = -1;
  bool ready_ = false;
  std::string log_;
};

TEST(OpcuaTestServer, ExpandedNodeIdAndStatusCodeMatchNodeOpcua) {
  RequireNode("node-opcua");
  TestServer server({"--mode", "none"});
  ASSERT_TRUE(server.ready()) << server.Log();
  ClientOptions o;
  o.endpoint_url = server.url();
  auto c = Client::Connect(o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto folder = Path(**c, {"Types"});
  ASSERT_TRUE(folder.ok()) << folder.status().ToString();
  auto vars = Variables(**c, *folder);
  ASSERT_EQ(vars.size(), 4u);
  testing::TempDir dir;
  auto rows = CompareReads(**c, server.url(), vars, dir.path());
  PrintReport(rows);
  std::set<std::pair<std::string, std::string>> ok;
  for (const Row& r : rows) {
    if (r.type_ok && r.value_ok) ok.insert({r.decoded, r.shape});
  }
  for (const char* t : {"ExpandedNodeId", "StatusCode"}) {
    for (const char* shape : {"scalar", "array"}) EXPECT_TRUE(ok.count({t, shape})) << t << " " << shape;
  }
  // And against the spec's numbers (OPC 10000-4 §7.39): BadNodeIdUnknown is 0x80340000.
  auto sc = (*c)->ReadValue(*(*c)->ResolveNodeId("ns=1;s=Types.StatusCode"));
  ASSERT_TRUE(sc.ok());
  EXPECT_EQ(std::get<StatusCode>(sc->value->values.at(0)).code, 0x80340000u);
  (*c)->Close();
}

// Connect with Sign (Basic256Sha256) after trusting the server's certificate.
Result<std::unique_ptr<Client>> ConnectSigned(const TestServer& s, const std::string& pki, Security sec,
                                              std::optional<std::string> user = {}, std::string password = "") {
  ClientOptions o;
  o.endpoint_url = s.url();
  o.security = sec;
  o.pki_dir = pki;
  o.user = std::move(user);
  o.password = std::move(password);
  if (sec != Security::kNone) {
    PF_ASSIGN_OR_RETURN(auto eps, Client::GetEndpoints(o.endpoint_url));
    for (const auto& e : eps) {
      if (!e.server_certificate.empty()) {
        CertificateStore store(pki);
        PF_RETURN_IF_ERROR(store.Trust(AsBytes(e.server_certificate)));
        break;
      }
    }
  }
  return Client::Connect(o);
}

TEST(OpcuaTestServer, SignOnlyBrowseReadSubscribe) {
  RequireNode("node-opcua");
  TestServer server({"--mode", "sign", "--vars", "5", "--interval", "100"});
  ASSERT_TRUE(server.ready()) << server.Log();
  testing::TempDir pki;

  // The server offers Sign only: SignAndEncrypt and None are refused with what it does offer.
  auto enc = ConnectSigned(server, pki.path(), Security::kSignAndEncrypt);
  ASSERT_FALSE(enc.ok());
  EXPECT_EQ(enc.status().code(), ::pf::StatusCode::kFailedPrecondition);
  EXPECT_NE(enc.status().message().find("the server offers: Basic256Sha256 Sign"), std::string::npos) << enc.status().message();
  auto none = ConnectSigned(server, pki.path(), Security::kNone);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), ::pf::StatusCode::kFailedPrecondition) << none.status().ToString();

  auto c = ConnectSigned(server, pki.path(), Security::kSign);
  ASSERT_TRUE(c.ok()) << c.status().ToString() << "\n" << server.Log();
  EXPECT_EQ((*c)->endpoint().security_mode, MessageSecurityMode::kSign);
  EXPECT_EQ((*c)->endpoint().security_policy_uri, "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256");
  // Browse and read over the signed channel.
  auto bench = Path(**c, {"Bench"});
  ASSERT_TRUE(bench.ok()) << bench.status().ToString();
  auto vars = Variables(**c, *bench);
  ASSERT_EQ(vars.size(), 5u);
  auto sc = (*c)->ReadValue(*(*c)->ResolveNodeId("ns=1;s=Types.StatusCode"));
  ASSERT_TRUE(sc.ok()) << sc.status().ToString();
  EXPECT_EQ(std::get<StatusCode>(sc->value->values.at(0)).code, 0x80340000u);  // BadNodeIdUnknown

  // Subscribe: Bench.<i> = i + (100 ms periods since start), so each item's values are i + an integer
  // and rise by whole periods; about 20 changes each in 2 s.
  SubscriptionOptions so;
  so.publishing_interval_ms = 100;
  auto sub = Subscription::Create(**c, so);
  ASSERT_TRUE(sub.ok()) << sub.status().ToString();
  std::vector<MonitorRequest> reqs;
  for (const auto& v : vars) {
    MonitorRequest m;
    m.node = v;
    m.sampling_interval_ms = 100;
    reqs.push_back(m);
  }
  auto items = (*sub)->Monitor(reqs);
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  std::map<uint32_t, std::vector<double>> values;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  int gaps = 0;
  while (std::chrono::steady_clock::now() < end) {
    auto r = (*sub)->Poll(std::chrono::seconds(5));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    gaps += r->kind == PublishResult::Kind::kGap;
    for (const auto& d : r->changes) values[d.client_handle].push_back(std::get<double>(d.value.value->values.at(0)));
  }
  EXPECT_EQ(gaps, 0);
  ASSERT_EQ(values.size(), 5u);
  for (const auto& [h, xs] : values) {
    SCOPED_TRACE(h);
    // Browse order is the server's; the item's index is in its browse name "Bench.0000<i>".
    const double i = std::stod(vars[h].text.substr(vars[h].text.size() - 5));
    // 20 expected; the lower bound leaves room for a loaded build machine (one Publish in flight).
    EXPECT_GE(xs.size(), 10u);
    EXPECT_LE(xs.size(), 25u);
    for (size_t k = 0; k < xs.size(); ++k) {
      EXPECT_DOUBLE_EQ(xs[k] - i, std::round(xs[k] - i)) << k;
      if (k > 0) EXPECT_GT(xs[k], xs[k - 1]) << k;
    }
  }
  std::cout << "Sign: " << values.begin()->second.size() << " changes of item 0 in 2 s\n";
  ASSERT_TRUE((*sub)->Close().ok());
  (*c)->Close();
}

TEST(OpcuaTestServer, UserNameLogin) {
  RequireNode("node-opcua");
  TestServer server({"--mode", "sign+none"});
  ASSERT_TRUE(server.ready()) << server.Log();
  testing::TempDir pki;
  for (Security sec : {Security::kNone, Security::kSign}) {
    SCOPED_TRACE(sec == Security::kNone ? "None" : "Sign");
    auto ok = ConnectSigned(server, pki.path(), sec, "operator", "secret");
    ASSERT_TRUE(ok.ok()) << ok.status().ToString() << "\n" << server.Log();
    auto v = (*ok)->ReadValue(*(*ok)->ResolveNodeId("ns=1;s=Types.StatusCode"));
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_EQ(std::get<StatusCode>(v->value->values.at(0)).code, 0x80340000u);
    (*ok)->Close();
    for (auto [user, password] : {std::pair{"operator", "wrong"}, std::pair{"intruder", "secret"}, std::pair{"operator", ""}}) {
      SCOPED_TRACE(fmt::format("{}/{}", user, password));
      auto bad = ConnectSigned(server, pki.path(), sec, user, password);
      ASSERT_FALSE(bad.ok());
      EXPECT_EQ(bad.status().code(), ::pf::StatusCode::kPermissionDenied);
      EXPECT_NE(bad.status().message().find("BadUserAccessDenied"), std::string::npos) << bad.status().message();
    }
  }
  // node-opcua's own client agrees: the right password reads, a wrong one is refused the same way.
  testing::TempDir dir;
  json r = NodeDump(server.url(), "read", {"ns=1;s=Types.StatusCode"}, dir.path(), "OPCUA_USER=operator OPCUA_PASSWORD=secret");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["value"]["value"], 0x80340000u);
  std::string log;
  EXPECT_NE(testing::Run(fmt::format("echo 'i=2255' | OPCUA_USER=operator OPCUA_PASSWORD=wrong node '{}' '{}' read",
                                     (SupportDir() / "opcua_dump.js").string(), server.url()), &log), 0);
  EXPECT_NE(log.find("BadUserAccessDenied"), std::string::npos) << log;
}

}  // namespace
}  // namespace pf::opcua
