#pragma once
// Test-only: reference values computed by R (r-base-core only, no packages) at test time.
// The R script sees `x` (the data) and `args` (extra numbers) and calls out("name", values) for
// each value it wants to hand back; RunR returns name -> values. Without Rscript the test
// process exits 77 (skipped), as the house's testing helpers do for missing peers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "testing.h"

namespace pf::spc::testing_r {

using Values = std::map<std::string, std::vector<double>>;

inline std::string RscriptOrSkip() {
  std::string path;
  if (pf::testing::Run("command -v Rscript", &path) != 0 || path.empty()) {
    pf::testing::RequireOrSkip("/usr/bin/Rscript", "the R reference values need Rscript (r-base-core)");
    return "/usr/bin/Rscript";
  }
  while (!path.empty() && (path.back() == '\n' || path.back() == '\r')) path.pop_back();
  return path;
}

inline Values RunR(const std::string& script, const std::vector<double>& data, const std::vector<double>& args = {}) {
  std::string rscript = RscriptOrSkip();
  pf::testing::TempDir dir;
  auto write = [](const std::string& path, const std::vector<double>& v) {
    std::ofstream f(path);
    f.precision(17);
    for (double d : v) f << d << "\n";
  };
  write(dir.path() + "/x.txt", data);
  write(dir.path() + "/args.txt", args);
  std::ofstream(dir.path() + "/ref.R")
      << "x <- scan('" << dir.path() << "/x.txt', quiet = TRUE)\n"
      << "args <- scan('" << dir.path() << "/args.txt', quiet = TRUE)\n"
      << "outfile <- '" << dir.path() << "/out.txt'\n"
      << "out <- function(name, v) cat(name, sprintf('%.17g', v), '\\n', file = outfile, append = TRUE)\n"
      << script << "\n";
  std::string log;
  int rc = pf::testing::Run(rscript + " --vanilla " + dir.path() + "/ref.R", &log);
  EXPECT_EQ(rc, 0) << log;
  Values values;
  std::ifstream in(dir.path() + "/out.txt");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string name, token;
    s >> name;
    while (s >> token) values[name].push_back(std::stod(token));
  }
  return values;
}

// The single value R gave under `name` (NaN, and a test failure, when there is none).
inline double One(const Values& v, const std::string& name) {
  auto it = v.find(name);
  EXPECT_TRUE(it != v.end() && it->second.size() == 1) << "R gave no single value for " << name;
  return it != v.end() && !it->second.empty() ? it->second[0] : NAN;
}

inline void ExpectRel(double actual, double expected, double rel, const std::string& what) {
  EXPECT_NEAR(actual, expected, rel * std::max(1e-300, std::fabs(expected))) << what;
}

}  // namespace pf::spc::testing_r
