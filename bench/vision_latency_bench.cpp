// Vision station latency (issue 10): image bytes to verdict through apps::VisionInspector on one core
// (decode, preprocessing, int8 inference, verdict), the way the station runs each part:
//   A. NEU-DET 200 x 200 JPEGs of the test split list, read from disk each time (page cache);
//   B. a 2448 x 2048 8-bit gray PNG composited from NEU tiles with two 200 x 200 ROIs on two tiles.
// Prints p50/p99/max per case and per stage, and the peak RSS. Goals: A p99 < 20 ms, B p99 < 100 ms,
// both also under ONEDNN_MAX_CPU_ISA=AVX2 (ctest runs it twice).
//   vision_latency_bench --model NEU_INT8.onnx --list tests/fixtures/splits/neu_test.txt --dir IMAGES [--runs 1000]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "apps/vision_inspector.h"
#include "bench_util.h"
#include "core/file.h"
#include "engine/model.h"

namespace {

using pf::bench::Percentile;

using Clock = std::chrono::steady_clock;

struct Times {
  std::vector<double> total, decode, pre, infer;
  int verdicts[3] = {0, 0, 0};
  void Add(const pf::apps::Inspection& r) {
    total.push_back(r.times.total_ms);
    decode.push_back(r.times.decode_ms);
    pre.push_back(r.times.preprocess_ms);
    infer.push_back(r.times.infer_ms);
    ++verdicts[static_cast<int>(r.verdict)];
  }
  void Print(const char* name, double goal_ms) const {
    std::printf("%s: %zu inspections, total p50 %.3f ms, p99 %.3f ms, max %.3f ms (goal p99 < %.0f ms: %s)\n", name,
                total.size(), Percentile(total, 0.5), Percentile(total, 0.99), Percentile(total, 1.0), goal_ms,
                Percentile(total, 0.99) < goal_ms ? "met" : "NOT met");
    std::printf("   stages p50: decode %.3f, preprocess %.3f, infer %.3f ms; verdicts accept %d reject %d uncertain %d\n",
                Percentile(decode, 0.5), Percentile(pre, 0.5), Percentile(infer, 0.5), verdicts[0], verdicts[1], verdicts[2]);
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string model_path, list, dir;
  int runs = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--model")) model_path = argv[i + 1];
    else if (!std::strcmp(argv[i], "--list")) list = argv[i + 1];
    else if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
    else if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
  }
  std::vector<std::string> files;
  std::ifstream in(list);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) files.push_back(dir + "/" + line);
  if (model_path.empty() || files.empty()) {
    std::fprintf(stderr, "usage: vision_latency_bench --model M --list LIST --dir DIR [--runs N]\n");
    return 2;
  }
  const char* isa = std::getenv("ONEDNN_MAX_CPU_ISA");
  std::printf("vision latency bench: %s, 1 thread, oneDNN ISA cap %s\n", model_path.c_str(), isa ? isa : "none (native)");
  pf::engine::ModelOptions mo;
  auto model = pf::engine::LoadModel(model_path, mo);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
    return 1;
  }
  pf::apps::VisionOptions o;
  o.reject_threshold = 0.5;
  auto inspector = pf::apps::VisionInspector::Create(std::move(*model), o);
  if (!inspector.ok()) {
    std::fprintf(stderr, "%s\n", inspector.status().ToString().c_str());
    return 1;
  }
  auto& v = **inspector;
  // A: 200 x 200 JPEGs, read and inspected one by one.
  Times a;
  for (int k = 0; k < runs + 20; ++k) {
    const auto t0 = Clock::now();
    auto bytes = pf::ReadFileBytes(files[k % files.size()]);
    const double acquire = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (!bytes.ok()) return 1;
    auto r = v.Inspect(*bytes, files[k % files.size()], acquire);
    if (k >= 20) a.Add(r);
  }
  a.Print("A 200x200 JPEG", 20);
  // B: a 2448 x 2048 composite of NEU tiles (PNG), two ROIs on two tiles.
  pf::images::Image big;
  big.width = 2448;
  big.height = 2048;
  big.channels = 1;
  big.data.assign(static_cast<size_t>(big.width) * big.height, 128);
  size_t next = 0;
  for (int ty = 0; ty + 200 <= big.height; ty += 200) {
    for (int tx = 0; tx + 200 <= big.width; tx += 200) {
      const std::string& f = files[next++ % files.size()];
      auto tile = pf::images::DecodeImage(*pf::ReadFileBytes(f), f);
      if (!tile.ok() || tile->width != 200 || tile->height != 200) {
        std::fprintf(stderr, "%s: not a 200x200 tile\n", f.c_str());
        return 1;
      }
      for (int y = 0; y < 200; ++y)
        for (int x = 0; x < 200; ++x) big.data[(ty + y) * big.width + tx + x] = static_cast<uint8_t>(tile->at(x, y, 0));
    }
  }
  auto png = pf::images::EncodePng(big);
  if (!png.ok()) {
    std::fprintf(stderr, "%s\n", png.status().ToString().c_str());
    return 1;
  }
  pf::apps::VisionOptions ob = o;
  ob.rois = {{400, 600, 200, 200}, {1800, 1400, 200, 200}};
  auto model_b = pf::engine::LoadModel(model_path, mo);
  auto inspector_b = pf::apps::VisionInspector::Create(std::move(*model_b), ob);
  if (!inspector_b.ok()) return 1;
  Times b;
  const int runs_b = std::max(50, runs / 10);
  for (int k = 0; k < runs_b + 3; ++k) {
    auto r = (*inspector_b)->Inspect(*png, "composite.png");
    if (k >= 3) b.Add(r);
  }
  std::printf("B image: %d x %d 8-bit gray PNG of %zu bytes, ROIs (400,600) and (1800,1400) 200x200\n", big.width,
              big.height, png->size());
  b.Print("B 2448x2048 PNG, 2 ROIs", 100);
  std::printf("peak RSS %ld kB\n", pf::bench::PeakRssKb());
  return Percentile(a.total, 0.99) < 20 && Percentile(b.total, 0.99) < 100 ? 0 : 1;
}
