// Vision station latency (issue 10): image bytes to verdict through apps::VisionInspector on one core
// (decode, preprocessing, int8 inference, verdict), the way the station runs each part:
//   A. NEU-DET 200 x 200 JPEGs of the test split list, read from disk each time (page cache);
//   B. a 2448 x 2048 8-bit gray PNG composited from NEU tiles with two 200 x 200 ROIs on two tiles.
// Prints p50/p99/max per case and per stage, and the peak RSS. Goals: A p99 < 20 ms, B p99 < 100 ms,
// both also under ONEDNN_MAX_CPU_ISA=AVX2 (ctest runs it twice).
// With --peer, the same pipeline through third-party code in the same run, interleaved image by image:
// Pillow + numpy decode and preprocess (bench/pil_preprocess.py: read + decode, crop, BOX/BILINEAR
// resize, normalisation) and ONNX Runtime 1.30 (onnxruntime-node, one thread) on the same int8
// model; the peer's time is the sum of the stage times each peer measures itself (IPC not counted).
// Prints both p50/p99, the ratios, the class agreement and each side's peak RSS. Skipped parts
// say so when a peer is missing.
//   vision_latency_bench --model NEU_INT8.onnx --list tests/fixtures/splits/neu_test.txt --dir IMAGES [--runs 1000]
//                        [--peer --peer-runs 300]
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
#include "ort/ort_client.h"

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

double Ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

// The peer pipeline of one image: Pillow decode + preprocess of each ROI, ONNX Runtime on each;
// returns the total ms and the class of the first ROI, or an error.
struct PeerResult {
  double decode_ms = 0, pre_ms = 0, infer_ms = 0, total_ms = 0;
  int64_t cls = -1;
};
pf::Result<PeerResult> PeerInspect(pf::ort::OrtPeer& pil, pf::ort::OrtPeer& ort, const pf::engine::Manifest& m,
                                   const std::string& path, const std::vector<pf::apps::Roi>& rois) {
  const auto& in = m.inputs[0];
  const auto join = [](const std::vector<double>& v) {
    std::string out;
    for (double x : v) out += (out.empty() ? "" : ",") + std::to_string(x);
    return out.empty() ? std::string("-") : out;
  };
  const std::string npy = "/tmp/pf_vision_bench_" + std::to_string(::getpid()) + ".npy";
  std::string cmd = "prep " + path + " " + std::to_string(in.shape[1]) + " " + std::to_string(in.shape[2]) + " " +
                    std::to_string(in.shape[3]) + " " + join(in.mean) + " " + join(in.std) + " " + npy;
  for (const auto& r : rois)
    cmd += " " + std::to_string(r.x) + "," + std::to_string(r.y) + "," + std::to_string(r.width) + "," + std::to_string(r.height);
  PF_ASSIGN_OR_RETURN(auto words, pil.Command(cmd));
  if (words.size() < 2) return pf::Internal("pil peer: short reply");
  PeerResult r;
  r.decode_ms = Ms(std::atoll(words[0].c_str()));
  r.pre_ms = Ms(std::atoll(words[1].c_str()));
  const size_t n = std::max<size_t>(1, rois.size());
  for (size_t k = 0; k < n; ++k) {
    const std::string f = n == 1 ? npy : npy.substr(0, npy.size() - 4) + "-" + std::to_string(k) + ".npy";
    PF_RETURN_IF_ERROR(ort.Command("input " + in.name + " " + f).status());
    PF_ASSIGN_OR_RETURN(auto run, ort.Command("run"));
    if (run.empty()) return pf::Internal("ort peer: short reply");
    r.infer_ms += Ms(std::atoll(run[0].c_str()));
    if (k == 0) {
      PF_RETURN_IF_ERROR(ort.Command("save " + m.outputs[0].name + " " + npy + ".out.npy").status());
      PF_ASSIGN_OR_RETURN(auto out, pf::ort::ReadNpyFloat(npy + ".out.npy"));
      r.cls = pf::ort::ArgMax(out);
    }
    std::remove(f.c_str());
  }
  std::remove((npy + ".out.npy").c_str());
  r.total_ms = r.decode_ms + r.pre_ms + r.infer_ms;
  return r;
}

// plantfloor (file read + Inspect) and the peer pipeline, image by image.
int SideBySide(const std::string& model_path, const std::vector<std::string>& files, int runs, pf::apps::VisionInspector& a,
               pf::apps::VisionInspector& b, const std::string& big_path, const std::vector<pf::apps::Roi>& rois) {
  if (const std::string missing = pf::ort::MissingPeer(); !missing.empty()) {
    std::printf("side by side: skipped, ONNX Runtime peer missing: %s\n", missing.c_str());
    return 0;
  }
  const std::string script = pf::ort::SourceDir() + "/bench/pil_preprocess.py";
  auto pil = pf::ort::OrtPeer::StartCommand({"/usr/bin/python3", script}, "pil peer");
  auto ort = pf::ort::OrtPeer::Start();
  if (!pil.ok() || !ort.ok()) {
    std::printf("side by side: skipped, %s\n", (!pil.ok() ? pil.status() : ort.status()).ToString().c_str());
    return 0;
  }
  if (auto l = (*ort)->Command("load " + model_path); !l.ok()) {
    std::fprintf(stderr, "%s\n", l.status().ToString().c_str());
    return 1;
  }
  const auto& manifest = a.model().manifest();
  const bool reset = pf::ort::ResetPeakRss();  // this process's peak from here: the side-by-side only
  const char* isa = std::getenv("ONEDNN_MAX_CPU_ISA");
  std::printf("side by side, interleaved per image: plantfloor (read + inspect) vs Pillow %s + ONNX Runtime (1 thread)%s\n",
              "decode/crop/resize/normalise",
              isa ? " [only plantfloor is capped by ONEDNN_MAX_CPU_ISA; ONNX Runtime keeps its native kernels]" : "");
  const auto run_case = [&](const char* name, pf::apps::VisionInspector& v, const std::vector<std::string>& paths,
                            const std::vector<pf::apps::Roi>& case_rois, int n, int warm) -> int {
    std::vector<double> ours, theirs, t_dec, t_pre, t_inf;
    int agree = 0, compared = 0;
    for (int k = 0; k < n + warm; ++k) {
      const std::string& path = paths[k % paths.size()];
      const auto t0 = Clock::now();
      auto bytes = pf::ReadFileBytes(path);
      const double acquire = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      if (!bytes.ok()) return 1;
      auto r = v.Inspect(*bytes, path, acquire);
      auto p = PeerInspect(**pil, **ort, manifest, path, case_rois);
      if (!p.ok()) {
        std::fprintf(stderr, "%s\n", p.status().ToString().c_str());
        return 1;
      }
      if (k < warm) continue;
      ours.push_back(r.times.total_ms);
      theirs.push_back(p->total_ms);
      t_dec.push_back(p->decode_ms);
      t_pre.push_back(p->pre_ms);
      t_inf.push_back(p->infer_ms);
      if (!r.rois.empty()) {
        ++compared;
        agree += r.rois.front().class_index == p->cls;
      }
    }
    const double o50 = Percentile(ours, 0.5), o99 = Percentile(ours, 0.99);
    const double p50 = Percentile(theirs, 0.5), p99 = Percentile(theirs, 0.99);
    std::printf("%s: %zu images: plantfloor p50 %.3f p99 %.3f ms | Pillow+ORT p50 %.3f p99 %.3f ms "
                "(decode %.3f, preprocess %.3f, infer %.3f p50) | peer/plantfloor p50 %.2fx p99 %.2fx | "
                "same class %d/%d\n",
                name, ours.size(), o50, o99, p50, p99, Percentile(t_dec, 0.5), Percentile(t_pre, 0.5),
                Percentile(t_inf, 0.5), p50 / o50, p99 / o99, agree, compared);
    return 0;
  };
  if (run_case("A' 200x200 JPEG", a, files, {}, runs, 10) != 0) return 1;
  if (run_case("B' 2448x2048 PNG, 2 ROIs", b, {big_path}, rois, std::max(50, runs / 6), 2) != 0) return 1;
  auto ort_rss = (*ort)->Command("rss");
  auto pil_rss = (*pil)->Command("rss");
  std::printf("peak RSS: plantfloor (this process%s) %ld kB, ONNX Runtime peer %lld kB, Pillow peer %lld kB\n",
              reset ? " during the side by side, both inspectors and the composite in memory" : ", whole bench", pf::bench::PeakRssKb(), ort_rss.ok() && !ort_rss->empty() ? std::atoll((*ort_rss)[0].c_str()) / 1024 : -1LL,
              pil_rss.ok() && !pil_rss->empty() ? std::atoll((*pil_rss)[0].c_str()) / 1024 : -1LL);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path, list, dir;
  int runs = 1000, peer_runs = 300;
  bool peer = false;
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--peer")) peer = true;
  for (int i = 1; i + 1 < argc; i += (std::strcmp(argv[i], "--peer") ? 2 : 1)) {
    if (!std::strcmp(argv[i], "--peer")) continue;
    if (!std::strcmp(argv[i], "--peer-runs")) peer_runs = std::atoi(argv[i + 1]);
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
  const bool goals = Percentile(a.total, 0.99) < 20 && Percentile(b.total, 0.99) < 100;
  if (peer) {
    const std::string big_path = "/tmp/pf_vision_bench_composite_" + std::to_string(::getpid()) + ".png";
    std::ofstream(big_path, std::ios::binary) << *png;
    const int rc = SideBySide(model_path, files, peer_runs, v, **inspector_b, big_path, ob.rois);
    std::remove(big_path.c_str());
    if (rc != 0) return rc;
  }
  return goals ? 0 : 1;
}
