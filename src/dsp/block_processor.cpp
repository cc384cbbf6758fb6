#include "dsp/block_processor.h"

#include <algorithm>
#include <cmath>

namespace pf::dsp {

Result<BlockProcessor> BlockProcessor::Create(BlockProcessorConfig c) {
  if (!(c.fs > 0) || !std::isfinite(c.fs)) return InvalidArgument("block processor: fs {} Hz must be > 0", c.fs);
  if (c.block_size < 64 || c.block_size % 2 != 0) {
    return InvalidArgument("block processor: block_size {} must be even and >= 64", c.block_size);
  }
  if (c.energy_bands.size() > kMaxEnergyBands) {
    return InvalidArgument("block processor: {} energy bands, at most {}", c.energy_bands.size(), kMaxEnergyBands);
  }
  for (std::size_t i = 0; i < c.energy_bands.size(); ++i) {
    const auto& b = c.energy_bands[i];
    if (!(b.lo_hz >= 0 && b.lo_hz < b.hi_hz)) {
      return InvalidArgument("block processor: energy band {}: {}..{} Hz must satisfy 0 <= lo < hi", i, b.lo_hz, b.hi_hz);
    }
  }
  if (!(c.velocity_lo_hz > 0 && c.velocity_lo_hz < c.velocity_hi_hz)) {
    return InvalidArgument("block processor: velocity band {}..{} Hz must satisfy 0 < lo < hi", c.velocity_lo_hz,
                           c.velocity_hi_hz);
  }
  if (c.kurtogram_blocks < 1 || c.ses_average_blocks < 1) {
    return InvalidArgument("block processor: kurtogram_blocks {} and ses_average_blocks {} must be >= 1",
                           c.kurtogram_blocks, c.ses_average_blocks);
  }
  if (c.kurtogram_phase < 0 || c.kurtogram_phase >= c.kurtogram_blocks)
    return InvalidArgument("block processor: kurtogram_phase {} must be in 0..{} (kurtogram_blocks - 1)",
                           c.kurtogram_phase, c.kurtogram_blocks - 1);
  if (!(c.order_tolerance >= 0 && c.order_tolerance < 0.5)) {
    return InvalidArgument("block processor: order_tolerance {} must be in [0, 0.5)", c.order_tolerance);
  }
  PF_RETURN_IF_ERROR(ValidateZoneBoundaries(c.zones));
  PF_RETURN_IF_ERROR(ValidateDiagnosisOptions(c.diagnosis));
  PF_ASSIGN_OR_RETURN(DefectFrequencies defects, DefectMultiples(c.bearing));
  PF_ASSIGN_OR_RETURN(SpectrumAnalyzer spectrum, SpectrumAnalyzer::Create(c.fs, c.block_size, WindowKind::kHann));
  PF_ASSIGN_OR_RETURN(EnvelopeSpectrum envelope, EnvelopeSpectrum::Create(c.fs, c.block_size));
  std::optional<Kurtogram> kurtogram;
  if (c.envelope_band) {
    PF_RETURN_IF_ERROR_CTX(envelope.SetBand(*c.envelope_band), "block processor");
  } else {
    PF_ASSIGN_OR_RETURN(Kurtogram kg, Kurtogram::Create(c.fs, c.block_size * c.kurtogram_blocks, c.kurtogram));
    kurtogram.emplace(std::move(kg));
  }
  BlockProcessor p(std::move(c), std::move(spectrum), std::move(envelope), std::move(kurtogram), defects);
  return p;
}

BlockProcessor::BlockProcessor(BlockProcessorConfig config, SpectrumAnalyzer spectrum, EnvelopeSpectrum envelope,
                               std::optional<Kurtogram> kurtogram, DefectFrequencies defects)
    : config_(std::move(config)), spectrum_(std::move(spectrum)), envelope_(std::move(envelope)),
      kurtogram_(std::move(kurtogram)), defects_(defects),
      history_(config_.block_size * static_cast<std::size_t>(config_.kurtogram_blocks)),
      ordered_(kurtogram_ ? history_.size() : 0), ses_avg_(config_.block_size / 2 + 1) {
  band_ready_ = !kurtogram_.has_value();
}

Status BlockProcessor::RebuildAverage() {
  // Oldest block first: the slot written next is the oldest.
  const std::size_t n = config_.block_size, blocks = static_cast<std::size_t>(config_.kurtogram_blocks);
  std::fill(ses_avg_.begin(), ses_avg_.end(), 0.0f);
  for (std::size_t b = 0; b < blocks; ++b) {
    const std::size_t slot = (ring_next_ + b) % blocks;
    const std::span<const float> block(history_.data() + slot * n, n);
    std::copy(block.begin(), block.end(), ordered_.begin() + static_cast<std::ptrdiff_t>(b * n));
  }
  PF_ASSIGN_OR_RETURN(KurtogramResult kr, kurtogram_->Compute(ordered_));
  PF_RETURN_IF_ERROR(envelope_.SetBand(kr.band));
  band_kurtosis_ = kr.kurtosis;
  for (std::size_t b = 0; b < blocks; ++b) {
    PF_RETURN_IF_ERROR(envelope_.Compute(std::span<const float>(ordered_.data() + b * n, n)));
    const auto ses = envelope_.ses();
    for (std::size_t k = 0; k < ses.size(); ++k) ses_avg_[k] += ses[k] / static_cast<float>(blocks);
  }
  averaged_ = static_cast<long long>(blocks);
  band_ready_ = true;
  return Status::Ok();
}

Status BlockProcessor::Process(std::span<const float> block, double shaft_hz, BlockResult* out) {
  if (block.size() != config_.block_size) {
    return InvalidArgument("block processor: block has {} samples, expected {}", block.size(), config_.block_size);
  }
  if (!(shaft_hz > 0) || !std::isfinite(shaft_hz)) {
    return InvalidArgument("block processor: shaft speed {} Hz must be > 0", shaft_hz);
  }
  PF_ASSIGN_OR_RETURN(out->features, ComputeTimeFeatures(block));
  PF_RETURN_IF_ERROR(spectrum_.Compute(block));
  out->velocity_rms_mm_s = spectrum_.VelocityRmsMmPerS(config_.velocity_lo_hz, config_.velocity_hi_hz);
  PF_ASSIGN_OR_RETURN(out->zone, ClassifySeverity(out->velocity_rms_mm_s, config_.zones));
  spectrum_.OrderAmplitudes(shaft_hz, config_.order_tolerance, out->orders);
  out->band_rms.fill(0);
  for (std::size_t i = 0; i < config_.energy_bands.size(); ++i) {
    out->band_rms[i] = spectrum_.BandRms(config_.energy_bands[i].lo_hz, config_.energy_bands[i].hi_hz);
  }

  const std::size_t n = config_.block_size, blocks = static_cast<std::size_t>(config_.kurtogram_blocks);
  std::copy(block.begin(), block.end(), history_.begin() + static_cast<std::ptrdiff_t>(ring_next_ * n));
  ring_next_ = (ring_next_ + 1) % blocks;
  ++blocks_seen_;

  if (kurtogram_ && blocks_seen_ >= config_.kurtogram_blocks &&
      blocks_seen_ % config_.kurtogram_blocks == config_.kurtogram_phase) {
    PF_RETURN_IF_ERROR(RebuildAverage());
  } else if (band_ready_) {
    PF_RETURN_IF_ERROR(envelope_.Compute(block));
    ++averaged_;
    const float w = 1.0f / static_cast<float>(std::min<long long>(averaged_, config_.ses_average_blocks));
    const auto ses = envelope_.ses();
    for (std::size_t k = 0; k < ses.size(); ++k) ses_avg_[k] += w * (ses[k] - ses_avg_[k]);
  }

  out->envelope_ready = band_ready_;
  out->envelope_band = envelope_.band();
  out->band_kurtosis = kurtogram_ ? band_kurtosis_ : 0.0;
  if (band_ready_) {
    PF_ASSIGN_OR_RETURN(out->diagnosis, DiagnoseBearing(ses_avg_, bin_hz(), shaft_hz, defects_, config_.diagnosis));
  } else {
    out->diagnosis = Diagnosis{};
  }
  return Status::Ok();
}

Result<BlockResult> AnalyzeRecord(std::span<const float> samples, double shaft_hz, BlockProcessorConfig config) {
  const std::size_t n = config.block_size;
  if (n == 0 || samples.size() < n) {
    return InvalidArgument("record: {} samples, need at least one block of {}", samples.size(), n);
  }
  const auto blocks = static_cast<int>(samples.size() / n);
  config.kurtogram_blocks = std::min(config.kurtogram_blocks, blocks);
  config.ses_average_blocks = std::max(config.ses_average_blocks, blocks);
  config.kurtogram_phase = 0;  // one record, one channel: nothing to stagger
  PF_ASSIGN_OR_RETURN(BlockProcessor p, BlockProcessor::Create(std::move(config)));
  BlockResult r;
  for (int b = 0; b < blocks; ++b) {
    PF_RETURN_IF_ERROR_CTX(p.Process(samples.subspan(static_cast<std::size_t>(b) * n, n), shaft_hz, &r), "record block {}", b);
  }
  return r;
}

}  // namespace pf::dsp
