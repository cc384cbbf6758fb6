#pragma once
// Streaming condition monitoring of one acceleration channel in fixed blocks (e.g. 1 s).
// Every block: time features, velocity RMS (mm/s, 10-1000 Hz, input in g) and its ISO zone,
// 1x/2x/3x order amplitudes, band RMS values, the squared-envelope spectrum (SES) in the
// current band and a bearing diagnosis on the averaged SES.
// Envelope band: given in the config, or chosen by a kurtogram over the last kurtogram_blocks
// blocks, every kurtogram_blocks blocks. When the band changes, the SES average is rebuilt from
// the kept history (so it never mixes bands); between kurtograms it is a running average with
// weight 1/min(blocks seen, ses_average_blocks). Until the first band is known (the first
// kurtogram_blocks blocks) envelope_ready is false and the diagnosis is `none`.
// The SES average is kept in Hz: a speed change larger than the speed tolerance blurs it.
// All plans and buffers are made in Create(); Process() never allocates (tested with a
// counting allocator). Not thread-safe: one processor per channel and thread.
#include <array>
#include <optional>
#include <span>
#include <vector>

#include "core/status.h"
#include "dsp/bearing.h"
#include "dsp/diagnosis.h"
#include "dsp/envelope.h"
#include "dsp/features.h"
#include "dsp/iso_severity.h"
#include "dsp/spectrum.h"

namespace pf::dsp {

inline constexpr std::size_t kMaxEnergyBands = 8;

struct BlockProcessorConfig {
  double fs = 0;               // Hz
  std::size_t block_size = 0;  // samples per block (even), e.g. fs for 1 s
  BearingGeometry bearing;
  ZoneBoundaries zones = DefaultZoneBoundaries(MachineGroup::kGroup2, Foundation::kRigid);
  double velocity_lo_hz = 10, velocity_hi_hz = 1000;
  double order_tolerance = 0.02;              // fraction of speed for 1x/2x/3x
  std::vector<FrequencyBand> energy_bands;    // at most kMaxEnergyBands
  std::optional<FrequencyBand> envelope_band; // fixed band; else the kurtogram's
  int kurtogram_blocks = 10;
  // 0..kurtogram_blocks-1: the kurtogram runs when blocks_seen % kurtogram_blocks == phase (once the
  // history is full). Give each channel of one machine a different phase so that their kurtograms
  // (the one expensive step) do not all fall on the same block.
  int kurtogram_phase = 0;
  KurtogramOptions kurtogram;
  int ses_average_blocks = 10;
  DiagnosisOptions diagnosis;
};

struct BlockResult {
  TimeFeatures features;
  double velocity_rms_mm_s = 0;
  SeverityZone zone = SeverityZone::kA;
  std::array<OrderAmplitude, 3> orders{};
  std::array<double, kMaxEnergyBands> band_rms{};  // [i] for config.energy_bands[i]
  bool envelope_ready = false;
  FrequencyBand envelope_band;
  double band_kurtosis = 0;  // of the kurtogram's band (0 for a fixed band)
  Diagnosis diagnosis;
};

class BlockProcessor {
 public:
  static Result<BlockProcessor> Create(BlockProcessorConfig config);

  // block.size() == block_size, finite samples (acceleration in g); shaft_hz > 0.
  Status Process(std::span<const float> block, double shaft_hz, BlockResult* out);
  // The averaged SES behind the last diagnosis (bin_hz() apart).
  std::span<const float> averaged_ses() const { return ses_avg_; }
  double bin_hz() const { return config_.fs / static_cast<double>(config_.block_size); }
  const BlockProcessorConfig& config() const { return config_; }

 private:
  BlockProcessor(BlockProcessorConfig config, SpectrumAnalyzer spectrum, EnvelopeSpectrum envelope,
                 std::optional<Kurtogram> kurtogram, DefectFrequencies defects);
  Status RebuildAverage();

  BlockProcessorConfig config_;
  SpectrumAnalyzer spectrum_;
  EnvelopeSpectrum envelope_;
  std::optional<Kurtogram> kurtogram_;
  DefectFrequencies defects_;
  std::vector<float> history_;  // ring of kurtogram_blocks blocks
  std::vector<float> ordered_;  // the ring in time order, for the kurtogram
  std::vector<float> ses_avg_;
  std::size_t ring_next_ = 0;   // block slot written next
  long long blocks_seen_ = 0;
  long long averaged_ = 0;
  bool band_ready_ = false;
  double band_kurtosis_ = 0;
};

// One record (a whole file): the blocks of `block_size` are run through a BlockProcessor whose
// kurtogram span is min(kurtogram_blocks, whole blocks in the record); returns the last block's
// result, i.e. the diagnosis on the SES averaged over the record, with the time features and
// velocity of the last block. kInvalidArgument for a record shorter than one block.
Result<BlockResult> AnalyzeRecord(std::span<const float> samples, double shaft_hz, BlockProcessorConfig config);

}  // namespace pf::dsp
