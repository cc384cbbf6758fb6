// TreeModel against XGBoost itself: each test trains a small booster through the C API on a
// synthetic data set, saves it as JSON and UBJSON, reloads it through TreeModel and compares the
// predictions with the training booster's own (XGBoosterPredictFromDMatrix), value by value.
// Plus: the learned function is right (accuracy on a separable rule, softmax rows sum to 1, the
// margin is the logit of the probability), and bad bytes are rejected with the file named.
#include "engine/tree_model.h"

#include <gtest/gtest.h>
#include <xgboost/c_api.h>

#include <cmath>
#include <random>

namespace pf::engine {
namespace {

struct Data {
  int64_t rows = 0, cols = 0;
  std::vector<float> x, y;
};

// Label: binary (x0 + 0.5 x1 > 0) or 3 classes (by the sign of x0 and x2), features N(0, 1).
Data MakeData(int64_t rows, int64_t cols, bool multiclass, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, 1);
  Data d{rows, cols, std::vector<float>(rows * cols), std::vector<float>(rows)};
  for (auto& v : d.x) v = g(rng);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = &d.x[r * cols];
    d.y[r] = multiclass ? (row[0] > 0.3f ? 2.0f : row[2] > 0 ? 1.0f : 0.0f) : (row[0] + 0.5f * row[1] > 0 ? 1.0f : 0.0f);
  }
  return d;
}

class Booster {
 public:
  Booster(const Data& d, const std::vector<std::pair<const char*, const char*>>& params, int rounds) {
    EXPECT_EQ(XGDMatrixCreateFromMat(d.x.data(), d.rows, d.cols, std::nanf(""), &dm_), 0) << XGBGetLastError();
    EXPECT_EQ(XGDMatrixSetFloatInfo(dm_, "label", d.y.data(), d.rows), 0) << XGBGetLastError();
    EXPECT_EQ(XGBoosterCreate(&dm_, 1, &h_), 0) << XGBGetLastError();
    for (auto [k, v] : params) EXPECT_EQ(XGBoosterSetParam(h_, k, v), 0) << XGBGetLastError();
    for (int i = 0; i < rounds; ++i) EXPECT_EQ(XGBoosterUpdateOneIter(h_, i, dm_), 0) << XGBGetLastError();
  }
  ~Booster() {
    XGBoosterFree(h_);
    XGDMatrixFree(dm_);
  }
  std::string Save(const char* format) const {
    bst_ulong len = 0;
    const char* p = nullptr;
    const std::string cfg = fmt::format(R"({{"format": "{}"}})", format);
    EXPECT_EQ(XGBoosterSaveModelToBuffer(h_, cfg.c_str(), &len, &p), 0) << XGBGetLastError();
    return std::string(p, len);
  }
  // The booster's own prediction on its training matrix, [rows, groups].
  std::vector<float> Predict(bool margin) const {
    const std::string cfg = fmt::format(
        R"({{"type": {}, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": true}})",
        margin ? 1 : 0);
    const bst_ulong* shape = nullptr;
    bst_ulong dim = 0;
    const float* out = nullptr;
    EXPECT_EQ(XGBoosterPredictFromDMatrix(h_, dm_, cfg.c_str(), &shape, &dim, &out), 0) << XGBGetLastError();
    return std::vector<float>(out, out + shape[0] * shape[1]);
  }

 private:
  DMatrixHandle dm_ = nullptr;
  BoosterHandle h_ = nullptr;
};

TEST(TreeModel, BinaryJsonAndUbjsonMatchTheBoosterAndLearnTheRule) {
  const Data d = MakeData(400, 4, false, 1);
  Booster b(d, {{"objective", "binary:logistic"}, {"max_depth", "3"}, {"eta", "0.3"}, {"nthread", "1"}}, 20);
  const std::vector<float> want = b.Predict(false);
  const std::vector<float> want_margin = b.Predict(true);
  for (const char* format : {"json", "ubj"}) {
    SCOPED_TRACE(format);
    auto m = TreeModel::LoadFromBytes(b.Save(format), {}, std::string("m.") + format);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ((*m)->num_features(), 4);
    EXPECT_EQ((*m)->outputs_per_row(), 1);
    EXPECT_EQ((*m)->boosted_rounds(), 20);
    EXPECT_EQ((*m)->objective(), "binary:logistic");
    auto batch = (*m)->Predict(Tensor::Float({d.rows, d.cols}, d.x));
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    EXPECT_EQ(batch->shape, (Shape{d.rows, 1}));
    int correct = 0;
    for (int64_t r = 0; r < d.rows; ++r) {
      ASSERT_FLOAT_EQ(batch->f[r], want[r]) << "row " << r;
      correct += (batch->f[r] > 0.5f) == (d.y[r] > 0.5f);
    }
    EXPECT_GT(correct, 0.95 * d.rows);
    // One row as [features].
    auto one = (*m)->Predict(Tensor::Float({4}, {d.x[40], d.x[41], d.x[42], d.x[43]}));
    ASSERT_TRUE(one.ok());
    EXPECT_EQ(one->shape, (Shape{1, 1}));
    EXPECT_FLOAT_EQ(one->f[0], want[10]);
  }
  TreeModelOptions margin;
  margin.margin = true;
  margin.threads = 2;
  auto m = TreeModel::LoadFromBytes(b.Save("json"), margin, "m.json");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  auto raw = (*m)->Predict(d.x.data(), d.rows);
  ASSERT_TRUE(raw.ok());
  for (int64_t r = 0; r < d.rows; ++r) {
    ASSERT_FLOAT_EQ((*raw)[r], want_margin[r]);
    EXPECT_NEAR(1.0 / (1.0 + std::exp(-(*raw)[r])), want[r], 1e-6);  // logistic(margin) = probability
  }
}

TEST(TreeModel, MulticlassSoftprobRowsMatchAndSumToOne) {
  const Data d = MakeData(300, 5, true, 2);
  Booster b(d, {{"objective", "multi:softprob"}, {"num_class", "3"}, {"max_depth", "3"}, {"nthread", "1"}}, 15);
  const std::vector<float> want = b.Predict(false);
  auto m = TreeModel::LoadFromBytes(b.Save("ubj"), {}, "m.ubj");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ((*m)->outputs_per_row(), 3);
  auto y = (*m)->Predict(Tensor::Float({d.rows, d.cols}, d.x));
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  ASSERT_EQ(y->shape, (Shape{d.rows, 3}));
  int correct = 0;
  for (int64_t r = 0; r < d.rows; ++r) {
    double sum = 0;
    int best = 0;
    for (int c = 0; c < 3; ++c) {
      ASSERT_FLOAT_EQ(y->f[r * 3 + c], want[r * 3 + c]);
      sum += y->f[r * 3 + c];
      if (y->f[r * 3 + c] > y->f[r * 3 + best]) best = c;
    }
    EXPECT_NEAR(sum, 1.0, 1e-5);
    correct += best == static_cast<int>(d.y[r]);
  }
  EXPECT_GT(correct, 0.9 * d.rows);
}

// plantfloor's tree loop against XGBoost's own prediction of the same loaded model, on rows with
// missing values (NaN takes each node's default branch), for every objective the loop takes; a dart
// booster stays with XGBoost.
TEST(TreeModel, NativeLoopMatchesXgboostWithMissingValues) {
  struct Case {
    const char* objective;
    bool multiclass;
  };
  Data rows = MakeData(200, 5, false, 7);
  std::mt19937 rng(11);
  for (auto& v : rows.x) {
    if (rng() % 5 == 0) v = std::nanf("");
  }
  for (const Case c : {Case{"binary:logistic", false}, Case{"binary:logitraw", false}, Case{"reg:logistic", false},
                       Case{"reg:squarederror", false}, Case{"reg:pseudohubererror", false}, Case{"multi:softprob", true}}) {
    SCOPED_TRACE(c.objective);
    Data d = MakeData(300, 5, c.multiclass, 3);
    for (size_t k = 0; k < d.x.size(); k += 7) d.x[k] = std::nanf("");  // missing values in training too
    std::vector<std::pair<const char*, const char*>> params{{"objective", c.objective}, {"max_depth", "4"}, {"nthread", "1"}};
    if (c.multiclass) params.push_back({"num_class", "3"});
    // A base score other than 0.5 (whose logit is 0) checks how each objective applies it.
    if (std::string(c.objective) != "multi:softprob") params.push_back({"base_score", "0.3"});
    Booster b(d, params, 12);
    const std::string bytes = b.Save("json");
    for (bool margin : {false, true}) {
      TreeModelOptions native, xgb;
      native.margin = xgb.margin = margin;
      xgb.native = false;
      auto mn = TreeModel::LoadFromBytes(bytes, native, "m.json");
      auto mx = TreeModel::LoadFromBytes(bytes, xgb, "m.json");
      ASSERT_TRUE(mn.ok() && mx.ok());
      EXPECT_TRUE((*mn)->native());
      EXPECT_FALSE((*mx)->native());
      auto yn = (*mn)->Predict(rows.x.data(), rows.rows);
      auto yx = (*mx)->Predict(rows.x.data(), rows.rows);
      ASSERT_TRUE(yn.ok() && yx.ok());
      ASSERT_EQ(yn->size(), yx->size());
      for (size_t k = 0; k < yn->size(); ++k) ASSERT_NEAR((*yn)[k], (*yx)[k], 1e-6) << "value " << k << " margin " << margin;
    }
  }
  Data d = MakeData(200, 4, false, 5);
  Booster dart(d, {{"objective", "binary:logistic"}, {"booster", "dart"}, {"rate_drop", "0.1"}, {"nthread", "1"}}, 5);
  auto m = TreeModel::LoadFromBytes(dart.Save("json"), {}, "dart.json");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_FALSE((*m)->native());
}

TEST(TreeModel, RejectsBadModelsAndInputs) {
  auto garbage = TreeModel::LoadFromBytes("\x93NUMPY", {}, "m.json");
  EXPECT_EQ(garbage.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(garbage.status().message(), "m.json: not an XGBoost JSON or UBJSON model (expected an object with 'learner')");
  auto broken = TreeModel::LoadFromBytes(R"({"learner": {"gradient_booster": 7}, "version": [1, 7, 4]})", {}, "m.json");
  EXPECT_EQ(broken.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(broken.status().message().rfind("m.json: XGBoost model load failed: ", 0), 0u) << broken.status().message();

  const Data d = MakeData(100, 3, false, 3);
  Booster b(d, {{"objective", "binary:logistic"}, {"nthread", "1"}}, 3);
  auto m = TreeModel::LoadFromBytes(b.Save("json"), {}, "m.json");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->Predict(Tensor::Float({2, 4})).status().message(),
            "m.json: input shape [2,4] does not match the model's [rows, 3] or [3]");
  EXPECT_EQ((*m)->Predict(Tensor::Int(DType::kInt64, {3}, {1, 2, 3})).status().message(),
            "m.json: input dtype int64 does not match the model's input dtype float");
}

}  // namespace
}  // namespace pf::engine
