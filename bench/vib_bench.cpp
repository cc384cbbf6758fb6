// Condition-monitoring CPU budget (issue 7): 8 acceleration channels at 25.6 kHz, one dsp::BlockProcessor
// per channel with 1 s blocks (time features, velocity RMS + ISO zone, orders, envelope spectrum and a
// bearing diagnosis every block, a kurtogram every 10 blocks, staggered over the channels), the dsp code compiled for x86-64-v3
// (AVX2/FMA, what a fanless PC has; not this machine's AVX-512).
//  1. fast: all blocks as fast as possible on one thread: CPU seconds per signal second = share of a core,
//     block latency (block complete -> diagnosis out) p50/p99/max, separately for kurtogram blocks;
//  2. realtime: the same for --realtime seconds with each 1 s block arriving on the wall clock: process
//     CPU share from getrusage (what top would show);
//  3. FFT throughput: dsp::RealFft (KissFFT) beside numpy.fft.rfft (Debian python3-numpy, pocketfft) on
//     the same sizes in the same run, transforms per second and the ratio.
// Peak RSS beside every figure. The signal is synthetic: an outer-race impact train (BPFO of a 6205 at
// 1797 rpm) with resonance ringing, a 1x component and white noise, different per channel.
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dsp/bearing.h"
#include "dsp/block_processor.h"
#include "dsp/fft.h"

namespace {

using namespace pf;

double ThreadCpu() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}
double Mono() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}
double ProcessCpu() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}
double PeakRssMiB() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}
double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(p * v.size())) - 1;
  return v[std::min(i, v.size() - 1)];
}

// One channel's signal generator: continuous across blocks.
class Channel {
 public:
  Channel(int index, double fs) : fs_(fs), rng_(1000 + index), noise_(0, 0.05 + 0.01 * index) {
    amp_ = 0.3 + 0.05 * index;
  }
  void Fill(std::vector<float>& out, double shaft_hz, double bpfo_hz) {
    const double period = 1.0 / bpfo_hz;
    for (size_t i = 0; i < out.size(); ++i, ++n_) {
      double t = n_ / fs_;
      double since = std::fmod(t, period);
      double ring = amp_ * std::exp(-since * 800) * std::sin(2 * M_PI * 3500 * since);
      out[i] = static_cast<float>(0.1 * std::sin(2 * M_PI * shaft_hz * t) + ring + noise_(rng_));
    }
  }

 private:
  double fs_;
  std::mt19937 rng_;
  std::normal_distribution<double> noise_;
  double amp_;
  long long n_ = 0;
};

struct RunResult {
  double cpu_s = 0, signal_s = 0;
  std::vector<double> latency_ms, kurtogram_latency_ms;
  int diagnosed_outer = 0, blocks = 0;
};

RunResult RunBlocks(int channels, double fs, int seconds, bool realtime) {
  auto geometry = dsp::LookupBearing("6205");
  if (!geometry.ok()) {
    fmt::print(stderr, "{}\n", geometry.status().message());
    std::exit(1);
  }
  const double shaft_hz = 1797 / 60.0;
  const double bpfo_hz = dsp::DefectMultiples(*geometry)->bpfo * shaft_hz;
  std::vector<dsp::BlockProcessor> procs;
  std::vector<Channel> gens;
  for (int c = 0; c < channels; ++c) {
    dsp::BlockProcessorConfig cfg;
    cfg.fs = fs;
    cfg.block_size = static_cast<size_t>(fs);
    cfg.bearing = *geometry;
    cfg.kurtogram_blocks = 10;
    cfg.kurtogram_phase = c % cfg.kurtogram_blocks;  // staggered: one channel's kurtogram per block
    auto p = dsp::BlockProcessor::Create(cfg);
    if (!p.ok()) {
      fmt::print(stderr, "{}\n", p.status().message());
      std::exit(1);
    }
    procs.push_back(std::move(*p));
    gens.emplace_back(c, fs);
  }
  std::vector<std::vector<float>> blocks(channels, std::vector<float>(static_cast<size_t>(fs)));
  dsp::BlockResult result;
  RunResult r;
  const double start = Mono();
  for (int s = 0; s < seconds; ++s) {
    for (int c = 0; c < channels; ++c) gens[c].Fill(blocks[c], shaft_hz, bpfo_hz);  // the sensor, not timed
    if (realtime) {
      double due = start + s + 1;
      double now = Mono();
      if (due > now) std::this_thread::sleep_for(std::chrono::duration<double>(due - now));
    }
    for (int c = 0; c < channels; ++c) {
      double c0 = ThreadCpu(), w0 = Mono();
      pf::Status st = procs[c].Process(blocks[c], shaft_hz, &result);
      double w1 = Mono(), c1 = ThreadCpu();
      if (!st.ok()) {
        fmt::print(stderr, "block {}: {}\n", s, st.message());
        std::exit(1);
      }
      r.cpu_s += c1 - c0;
      // fast: this channel's processing time; realtime: from the block being complete (all channels
      // arrive at the top of the second) to this channel's diagnosis, after the channels before it.
      double lat = realtime ? (w1 - (start + s + 1)) * 1e3 : (w1 - w0) * 1e3;
      bool kurtogram_block = s + 1 >= 10 && (s + 1) % 10 == c % 10;
      (kurtogram_block ? r.kurtogram_latency_ms : r.latency_ms).push_back(lat);
      r.blocks++;
      if (result.diagnosis.location == dsp::FaultLocation::kOuterRace) r.diagnosed_outer++;
    }
  }
  r.signal_s = seconds;
  return r;
}

struct FftFigure {
  size_t n;
  double ours_per_s;
};

std::vector<FftFigure> OurFft(const std::vector<size_t>& sizes, double seconds_each) {
  std::vector<FftFigure> out;
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  for (size_t n : sizes) {
    auto plan = dsp::RealFft::Create(n);
    std::vector<float> x(n);
    for (auto& v : x) v = nd(rng);
    std::vector<dsp::Complex> y(n / 2 + 1);
    long long iters = 0;
    double t0 = Mono();
    while (Mono() - t0 < seconds_each) {
      for (int k = 0; k < 16; ++k) plan->Forward(x, y);
      iters += 16;
    }
    out.push_back({n, iters / (Mono() - t0)});
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int channels = 8, seconds = 120, realtime = 20;
  double fs = 25600;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--channels") channels = std::atoi(argv[i + 1]);
    else if (a == "--seconds") seconds = std::atoi(argv[i + 1]);
    else if (a == "--realtime") realtime = std::atoi(argv[i + 1]);
    else if (a == "--fs") fs = std::atof(argv[i + 1]);
    else {
      fmt::print(stderr, "unknown option {}\n", a);
      return 2;
    }
  }
#if defined(__AVX2__) && !defined(__AVX512F__)
  const char* isa = "x86-64-v3 (AVX2, FMA; no AVX-512)";
#elif defined(__AVX512F__)
  const char* isa = "AVX-512";
#else
  const char* isa = "baseline x86-64";
#endif
  fmt::print("vib_bench: {} channels x {} Hz, 1 s blocks, kurtogram every 10 blocks; dsp compiled for {}\n",
             channels, fs, isa);

  RunResult fast = RunBlocks(channels, fs, seconds, false);
  double fast_share = fast.cpu_s / fast.signal_s * 100;
  fmt::print("fast:     {} s of signal, CPU {:.2f} s = {:.2f} % of one core (budget 15 %); "
             "per-channel block p50 {:.2f} ms p99 {:.2f} ms; kurtogram blocks p50 {:.1f} ms max {:.1f} ms; "
             "outer race named on {}/{} blocks; peak RSS {:.1f} MiB\n",
             seconds, fast.cpu_s, fast_share, Percentile(fast.latency_ms, 0.5), Percentile(fast.latency_ms, 0.99),
             Percentile(fast.kurtogram_latency_ms, 0.5), Percentile(fast.kurtogram_latency_ms, 1.0),
             fast.diagnosed_outer, fast.blocks, PeakRssMiB());

  double p0 = ProcessCpu();
  RunResult rt = RunBlocks(channels, fs, realtime, true);
  double p1 = ProcessCpu();
  // The generator runs in this process too: subtract its share measured separately below.
  double gen0 = ThreadCpu();
  {
    Channel g(0, fs);
    std::vector<float> b(static_cast<size_t>(fs));
    for (int s = 0; s < realtime; ++s)
      for (int c = 0; c < channels; ++c) g.Fill(b, 29.95, 107.4);
  }
  double gen_cpu = ThreadCpu() - gen0;
  double rt_share = (p1 - p0 - gen_cpu) / realtime * 100;
  fmt::print("realtime: {} s, process CPU (less the signal generator's {:.2f} s) = {:.2f} % of one core; "
             "sample-to-diagnosis (last sample of a block -> diagnosis of the 8th channel) p50 {:.1f} ms p99 {:.1f} ms; "
             "kurtogram blocks max {:.1f} ms; peak RSS {:.1f} MiB\n",
             realtime, gen_cpu, rt_share, Percentile(rt.latency_ms, 0.5), Percentile(rt.latency_ms, 0.99),
             Percentile(rt.kurtogram_latency_ms, 1.0), PeakRssMiB());

  const std::vector<size_t> sizes = {1024, 4096, 16384, 25600, 65536};
  auto ours = OurFft(sizes, 1.0);
  std::string sizes_arg;
  for (size_t n : sizes) sizes_arg += fmt::format("{}{}", sizes_arg.empty() ? "" : ",", n);
  std::string cmd = fmt::format("{} {} {}", PF_BENCH_PYTHON, PF_NUMPY_FFT_SCRIPT, sizes_arg);
  FILE* p = popen(cmd.c_str(), "r");
  std::string text;
  if (p) {
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, got);
    pclose(p);
  }
  nlohmann::json numpy = nlohmann::json::parse(text, nullptr, false);
  if (numpy.is_discarded()) {
    fmt::print("numpy.fft: not available ({}): FFT ratio not measured\n", cmd);
    return 0;
  }
  fmt::print("FFT (real input, float32 KissFFT vs numpy.fft.rfft float64 pocketfft {}), transforms/s:\n",
             numpy.value("numpy", std::string("?")));
  fmt::print("  {:>7} {:>14} {:>14} {:>8}\n", "n", "plantfloor", "numpy", "ratio");
  for (const auto& f : ours) {
    double np = numpy["rate"].value(std::to_string(f.n), 0.0);
    fmt::print("  {:>7} {:>14.0f} {:>14.0f} {:>7.2f}x\n", f.n, f.ours_per_s, np, np > 0 ? f.ours_per_s / np : 0.0);
  }
  fmt::print("numpy process peak RSS {:.1f} MiB; plantfloor bench peak RSS {:.1f} MiB\n",
             numpy.value("peak_rss_mib", 0.0), PeakRssMiB());
  return fast_share <= 15 ? 0 : 1;
}
