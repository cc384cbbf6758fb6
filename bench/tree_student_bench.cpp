// Tree student against its teacher and against XGBoost (issue 9, distillation): per-inference
// latency, one row at a time, on the same feature rows in one run, interleaved run by run:
//   teacher  the ONNX feature model through plantfloor's engine (engine::Model::Run)
//   student  the distilled trees through engine::Model::Run (plantfloor's native tree loop)
//   loop     TreeModel::Predict, native loop                 } the same booster, the loop alone
//   xgboost  TreeModel::Predict through XGBoost's C API (peer)
// Prints medians, p99s, the ratios, the largest native-vs-XGBoost output difference, and the peak RSS.
//   tree_student_bench --teacher T.onnx --student S.json --data DIR [--runs 20000]
// bench/tree_student_bench.sh makes the student and the rows from CWRU and runs this.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "engine/model.h"
#include "engine/npy.h"
#include "engine/tree_model.h"

namespace {

using pf::bench::Percentile;

using Clock = std::chrono::steady_clock;

int Fail(const std::string& what) {
  std::fprintf(stderr, "error: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string teacher_path, student_path, data;
  int runs = 20000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--teacher")) teacher_path = argv[i + 1];
    else if (!std::strcmp(argv[i], "--student")) student_path = argv[i + 1];
    else if (!std::strcmp(argv[i], "--data")) data = argv[i + 1];
    else if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
    else return Fail(std::string("unknown argument ") + argv[i]);
  }
  if (teacher_path.empty() || student_path.empty() || data.empty() || runs < 1)
    return Fail("usage: tree_student_bench --teacher T.onnx --student S.json --data DIR [--runs N]");
  pf::engine::ModelOptions mo;
  auto teacher = pf::engine::LoadModel(teacher_path, mo);
  if (!teacher.ok()) return Fail(teacher.status().ToString());
  auto student = pf::engine::LoadModel(student_path, mo);
  if (!student.ok()) return Fail(student.status().ToString());
  pf::engine::TreeModelOptions native_opt, xgb_opt;
  xgb_opt.native = false;
  auto loop = pf::engine::TreeModel::LoadFromFile(student_path, native_opt);
  auto xgb = pf::engine::TreeModel::LoadFromFile(student_path, xgb_opt);
  if (!loop.ok() || !xgb.ok()) return Fail("the student does not load as a TreeModel");
  if (!(*loop)->native()) return Fail("the student does not run in the native loop");
  const int64_t features = (*loop)->num_features();
  std::vector<std::vector<float>> rows;
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(data))
    if (e.path().extension() == ".npy") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    auto t = pf::engine::ReadNpyFile(f);
    if (!t.ok() || static_cast<int64_t>(t->f.size()) != features) return Fail(f + ": not a row of the student's features");
    rows.push_back(t->f);
  }
  if (rows.empty()) return Fail(data + ": no .npy rows");
  const auto& in = (*teacher)->inputs()[0];
  pf::engine::Shape one(in.shape.size(), 1);
  one.back() = features;
  std::vector<pf::engine::TensorMap> inputs;
  for (const auto& r : rows) {
    pf::engine::TensorMap m;
    m.emplace(in.name, pf::engine::Tensor::Float(one, r));
    inputs.push_back(std::move(m));
  }
  // Agreement of the two prediction paths on every row.
  double max_diff = 0;
  for (const auto& r : rows) {
    auto a = (*loop)->Predict(r.data(), 1);
    auto b = (*xgb)->Predict(r.data(), 1);
    if (!a.ok() || !b.ok()) return Fail("prediction failed");
    for (size_t k = 0; k < a->size(); ++k) max_diff = std::max<double>(max_diff, std::abs((*a)[k] - (*b)[k]));
  }
  std::vector<double> t_teacher, t_student, t_loop, t_xgb;
  auto time_us = [](auto&& fn) {
    const auto s = Clock::now();
    fn();
    return std::chrono::duration<double, std::micro>(Clock::now() - s).count();
  };
  bool ok = true;
  for (int k = 0; k < runs + 200; ++k) {
    const size_t r = static_cast<size_t>(k) % rows.size();
    const double a = time_us([&] { ok &= (*teacher)->Run(inputs[r]).ok(); });
    const double b = time_us([&] { ok &= (*student)->Run(inputs[r]).ok(); });
    const double c = time_us([&] { ok &= (*loop)->Predict(rows[r].data(), 1).ok(); });
    const double d = time_us([&] { ok &= (*xgb)->Predict(rows[r].data(), 1).ok(); });
    if (k < 200) continue;
    t_teacher.push_back(a);
    t_student.push_back(b);
    t_loop.push_back(c);
    t_xgb.push_back(d);
  }
  if (!ok) return Fail("a run failed");
  std::printf("tree student bench: %zu rows of %lld features, %d interleaved runs, 1 thread\n", rows.size(),
              static_cast<long long>(features), runs);
  std::printf("  teacher %s (engine)        p50 %8.3f us  p99 %8.3f us\n", teacher_path.c_str(), Percentile(t_teacher, 0.5),
              Percentile(t_teacher, 0.99));
  std::printf("  student %s (Model::Run)    p50 %8.3f us  p99 %8.3f us   teacher/student %.1fx\n", student_path.c_str(),
              Percentile(t_student, 0.5), Percentile(t_student, 0.99), Percentile(t_teacher, 0.5) / Percentile(t_student, 0.5));
  std::printf("  trees, native loop               p50 %8.3f us  p99 %8.3f us\n", Percentile(t_loop, 0.5), Percentile(t_loop, 0.99));
  std::printf("  trees, XGBoost 1.7 C API (peer)  p50 %8.3f us  p99 %8.3f us   xgboost/native %.1fx\n", Percentile(t_xgb, 0.5),
              Percentile(t_xgb, 0.99), Percentile(t_xgb, 0.5) / Percentile(t_loop, 0.5));
  std::printf("  native vs XGBoost: largest output difference %.3g\n", max_diff);
  std::printf("  peak RSS (whole process: teacher, student twice, rows) %ld kB\n", pf::bench::PeakRssKb());
  return max_diff <= 1e-5 ? 0 : 1;
}
