#pragma once
// `plantfloor vib`: condition monitoring of one vibration record in a CSV file, the way a
// reliability engineer checks a machine with a data collector: time features, velocity RMS
// (mm/s, 10-1000 Hz) and its ISO 10816-3 zone, 1x/2x/3x order amplitudes, the envelope band and
// a bearing diagnosis with its evidence (src/dsp does all the computing; this is the file,
// argument and report layer).
//   plantfloor vib --input rec.csv --fs 12000 --rpm 1797 --bearing 6205 [--json] [--plot rec.png]
// Input: a CSV with a header (RFC 4180, as `spc` reads it); the acceleration column in g
// (--column, or the only column that is not --rpm-column). Every cell must be a finite number:
// an empty cell, NA or text is an error naming file:row:column and the cell.
// Speed: --rpm N for the whole record, or --rpm-column C (rpm per row): the shaft speed of each
// block is the median of C over the block's rows. A block whose median is not above 0 has no
// speed: the sensor-health check reports speed_missing and the block is left out of everything
// spectral (velocity, orders, envelope, diagnosis); its samples still count in the time features.
// Sensor health (dsp::SensorHealth, default options) checks every block first; its faults are
// reported (code, blocks, the first block's message) and any fault suppresses the diagnosis
// (`diagnosis` is `none`, diagnosis_suppressed_by_sensor_fault is true, the evidence is still shown).
// The record is cut into blocks of --block-s seconds (block length rounded to an even number of
// samples; samples after the last whole block are not analysed and are counted in the report) and
// run through one dsp::BlockProcessor with the kurtogram over min(10, blocks) blocks and the
// squared-envelope spectrum averaged over the whole record (as dsp::AnalyzeRecord). Reported:
// time features of the analysed samples; velocity RMS as the energy mean over blocks; order
// amplitudes as the mean over blocks; the diagnosis of the last block (on the averaged SES).
// Feature vectors (--features-out DIR): instead of the report, the record is cut into blocks of
// --features-block samples, half overlapping, and each block's dsp::BearingFeatureVector (the input
// of feature-based bearing models, e.g. the CWRU model of scripts/train/cwru_features.py) is written
// as DIR/<label>_<file stem, "_" as "-">-<block>.npy, float32 [1, F] (the naming `model quantize|distill --eval`
// read labels from). --decimate Q first low-passes and keeps every Q-th sample (fs / Q), e.g. a
// 48 kHz record beside 12 kHz ones. The feature names go to DIR/feature_names.txt.
// Exit codes: 0 analysed (a fault found is a finding, not a failure), 2 bad arguments or bad
// input (the message says where and what), 1 anything else (e.g. the plot cannot be written).
#include <iosfwd>
#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace pf {

struct VibArgs {
  std::string input;
  double fs = 0;                 // Hz
  std::optional<double> rpm;     // exclusive with rpm_column
  std::string rpm_column;
  std::string column;            // acceleration column ("" = the only other one)
  std::string bearing;           // catalogue name, exclusive with geometry
  std::string geometry;          // "n,d,D,angle"
  std::string machine_group = "2";
  std::string foundation = "rigid";
  double block_s = 1;
  bool json = false;
  std::string plot;              // PNG path, "" = none
  std::string features_out;      // directory for feature vectors, "" = report instead
  std::string label;             // file-name prefix of the feature vectors (a class name)
  int features_block = 4096;     // samples per feature block (after decimation)
  int decimate = 1;
};

// Returns the exit code; the report to out, errors to err ("error: ..." lines).
int RunVib(const VibArgs& args, std::ostream& out, std::ostream& err);

// Registers `vib` under app; its callback runs RunVib on std::cout/std::cerr and exits with its code.
void AddVibCommand(CLI::App& app);

}  // namespace pf
