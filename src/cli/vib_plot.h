#pragma once
// The picture of a `plantfloor vib` analysis, as a PNG (cairo image surface): two panels.
//   Top: the amplitude spectrum (0 .. fs/2, log amplitude axis in decades), with the envelope band
//        shaded and the shaft speed (1x) marked.
//   Bottom: the squared-envelope spectrum (linear axis) up to a little above the highest fault
//        frequency harmonic searched, with every searched line of every candidate marked by a
//        labelled vertical line ("BPFO", "2×BPFO", ...; BPFO, BPFI, BSF, FTF each in their own
//        colour, the diagnosed location's lines solid and heavier, the others dashed), the shaft
//        harmonics 1x, 2x, 3x in grey, and a ring on each line found above the detection threshold.
// Labels that would overlap are stacked in rows. No NaN or infinite coordinate is ever drawn:
// a non-finite input value is kInvalidArgument. Pure apart from writing `path`.
#include <span>
#include <string>

#include "core/status.h"
#include "dsp/diagnosis.h"
#include "dsp/envelope.h"

namespace pf {

struct VibPlotInput {
  std::span<const float> amplitude;  // one-sided amplitude spectrum from bin 0, g
  double amplitude_bin_hz = 0;
  std::span<const float> ses;        // squared-envelope spectrum from bin 0, g^2
  double ses_bin_hz = 0;
  double shaft_hz = 0;
  dsp::FrequencyBand envelope_band;  // lo == hi == 0: not shown
  const dsp::Diagnosis* diagnosis = nullptr;  // the candidates' searched lines; required
  double detection_snr_db = 9.5;     // rings on lines at or above this
  std::string title;
  int width = 1100, height = 760;    // pixels, 400..6000
};

// kInvalidArgument for empty spectra, a non-finite value, a missing diagnosis, a size out of range or
// a path not ending in .png (case-insensitive); kUnavailable when the file cannot be written.
Status WriteVibPlot(const VibPlotInput& in, const std::string& path);

// "BPFO", "BPFI", "BSF", "FTF" for the four locations, "" otherwise.
std::string_view FaultFrequencyName(dsp::FaultLocation l);

}  // namespace pf
