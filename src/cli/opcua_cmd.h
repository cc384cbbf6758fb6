#pragma once
// `plantfloor opcua endpoints|browse|read|subscribe`: the OPC UA commissioning tool.
//   plantfloor opcua endpoints --endpoint opc.tcp://plc:4840
//   plantfloor opcua browse    --endpoint URL [--node i=85 ...]
//   plantfloor opcua read      --endpoint URL --node "ns=1;s=Line1.Counter" [--node "nsu=urn:x;s=y" ...]
//   plantfloor opcua subscribe --endpoint URL --node ID ... [--sampling-ms 100] [--publishing-ms 100]
//                              [--duration-s 10]: one line per data change (node, source time, server
//                              time, value, status); with --json one JSON object per line.
// Common: [--security none|sign|encrypt] [--user U --password P] [--pki DIR] [--timeout-ms N] [--json].
// With sign/encrypt the certificate store under --pki (default ./pki) holds the client certificate
// (created on first use) and the trusted server certificates; an untrusted server's certificate is
// put in DIR/rejected/certs and the message says to move it to DIR/trusted/certs.
// Deps: pf_connect_opcua, CLI11 (header-only), nlohmann_json.
#include <iosfwd>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace pf {

struct OpcuaArgs {
  std::string command;  // endpoints | browse | read
  std::string endpoint;
  std::string security = "none";
  std::string user;
  std::string password;
  bool has_user = false;
  bool has_password = false;
  std::string pki = "pki";
  std::vector<std::string> nodes;
  int timeout_ms = 10000;
  bool json = false;
  double sampling_ms = 100;    // subscribe
  double publishing_ms = 100;  // subscribe
  double duration_s = 10;      // subscribe: how long to print notifications
};

// Exit code: 0 done, 1 the server or network failed (or refused: untrusted certificate, login), 2 bad arguments.
int RunOpcua(const OpcuaArgs& args, std::ostream& out, std::ostream& err);

// Registers `opcua endpoints|browse|read`; each callback exits the process with RunOpcua's code.
void AddOpcuaCommands(CLI::App& app);

}  // namespace pf
