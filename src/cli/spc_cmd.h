#pragma once
// `plantfloor spc`: control charts of a CSV file (Phase I limits from a baseline, Phase II
// judged against them), run rules, and a text or JSON report.
//   plantfloor spc --chart xbar_r --input pistonrings.csv --column diameter --subgroup-column sample
//                  --phase1-rows 1:25 --rules we1 [--json] [--plot chart.svg]
// Input layout:
//   xbar_r, xbar_s   --column C with --subgroup-size N (consecutive rows) or --subgroup-column C
//                    (rows with the same id, in order of first appearance; the id labels the point)
//   imr, ewma, cusum --column C, one value per row (ewma/cusum: subgroups of constant n chart the means);
//                    --subgroup-column here only labels points and must be unique per row
//   p, np            --column C (nonconforming units) with --sizes-column C or --subgroup-size N (sample size)
//   c, u             --column C (nonconformities), u with --sizes-column C or --subgroup-size N (inspection units)
//   t2               --columns c1,c2,... one observation per row (with --subgroup-size / --subgroup-column:
//                    subgroups); or several --input files, one variable each, one row per subgroup with the
//                    observations in --columns (default: every column but --subgroup-column)
// --usl/--lsl [--target]: capability of the Phase I values in use (variables charts) with the chart's sigma
// as sigma within, in "capability". --ar1-residuals: chart the residuals of an AR(1) fit to Phase I.
// Missing cells (empty or NA) are skipped and counted (input.missing): a missing value drops out of its
// subgroup; a sample with a missing count or size, and a t2 row with any missing variable, is dropped.
// Exit codes: 0 charted (violations are findings, not failures), 2 bad arguments or bad input
// (the message names file:row:column or the point), 1 anything else.
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace pf {

struct SpcArgs {
  std::string chart;
  std::vector<std::string> inputs;
  std::string column;
  std::string columns;  // t2: comma list
  int subgroup_size = 0;
  std::string subgroup_column;
  std::string sizes_column;
  std::string phase1_rows;  // "A:B", 1-based inclusive, in points (subgroups for subgrouped charts)
  std::string rules = "we";
  std::optional<double> usl, lsl, target;
  double lambda = 0.2;
  double L = 3;
  double k = 0.5, h = 5;
  bool fir = false;
  bool asymptotic = false;
  double alpha = 0.0027;
  std::optional<double> mean, sigma;
  bool exclude_ooc = false;
  int max_passes = 0;
  std::string exclude;  // comma list of 1-based points
  bool allow_autocorrelation = false;
  bool ar1_residuals = false;  // chart AR(1) residuals (imr, ewma, cusum)
  bool json = false;
  std::string plot;
};

// Returns the exit code; the report to out, errors to err.
int RunSpc(const SpcArgs& args, std::ostream& out, std::ostream& err);

// Registers `spc` under app; its callback runs RunSpc on std::cout/std::cerr and exits with its code.
void AddSpcCommand(CLI::App& app);

}  // namespace pf
