#pragma once
// `plantfloor modbus read`: the commissioning tool. Reads registers or bits once from a PLC and
// prints both address notations, the raw registers in hex and the decoded value.
//   plantfloor modbus read --endpoint tcp://10.0.0.5:502 --unit 1 --address 40017 --count 2
//                          --type float32 --order cdab [--timeout 1s] [--json]
// Deps: pf_connect_modbus, CLI11 (header-only), nlohmann_json.
#include <iosfwd>
#include <string>

namespace CLI {
class App;
}

namespace pf {

struct ModbusReadArgs {
  std::string endpoint;        // tcp://HOST:PORT or rtu:///dev/DEVICE
  int unit = 1;
  std::string address;         // 40017, 400017, hr:16, hr:9.3, co:0 ...
  int count = 1;               // values to read (registers for strings: the string's register count)
  std::string type = "";       // default uint16, bool for coils/discrete inputs/bits
  std::string order = "abcd";
  std::string timeout = "1s";
  int baud = 19200;            // RTU only
  std::string parity = "N";    // RTU only
  bool json = false;
};

// Returns the process exit code: 0 read and printed, 1 the PLC failed (timeout, exception), 2 bad arguments.
// Output to out, errors to err.
int RunModbusRead(const ModbusReadArgs& args, std::ostream& out, std::ostream& err);
int RunModbusRead(const ModbusReadArgs& args);  // std::cout / std::cerr

// Registers `modbus read` (with the flags above) under app; the callback runs RunModbusRead and
// exits the process with its code.
void AddModbusCommands(CLI::App& app);

}  // namespace pf
