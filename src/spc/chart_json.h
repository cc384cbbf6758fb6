#pragma once
// The JSON form of a ChartResult, as `plantfloor spc --json` prints it (the contract shared with
// the R reference and the plot: docs in tests/reference/README.md and the spc/ interface notes).
// Every number is a JSON number; optional values are null, never NaN.
#include <string>

#include <nlohmann/json.hpp>

#include "spc/charts.h"

namespace pf::spc {

struct JsonInput {
  std::string file;  // as given on the command line
  int rows = 0;      // data rows read (header excluded)
  int missing = 0;   // empty / NA cells skipped
};

nlohmann::json ChartResultJson(const ChartResult& r, const JsonInput& input);

}  // namespace pf::spc
