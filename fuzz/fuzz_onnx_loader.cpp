// libFuzzer target: everything the engine does with an untrusted model or tensor file before
// running it: ONNX import (engine/onnx_import.h), static shape inference, the metadata and the
// manifest in it (engine/manifest.h, including the wire-format walk behind the model hash), and
// the .npy reader (engine/npy.h). Every rejection must be a Status with a message; an accepted
// .npy must hold exactly its shape's elements; an imported graph must be sorted (every node input
// produced before it).
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string_view>

#include "engine/manifest.h"
#include "engine/npy.h"
#include "engine/onnx_import.h"
#include "engine/shape_inference.h"

namespace {

void Check(const pf::Status& s) {
  if (!s.ok() && s.message().empty()) std::abort();
}

void CheckSorted(const pf::engine::Graph& g) {
  std::set<std::string> known;
  for (const auto& [name, t] : g.constants) known.insert(name);
  for (const auto& in : g.inputs) known.insert(in.name);
  for (const auto& n : g.nodes) {
    for (const auto& in : n.inputs) {
      if (!in.empty() && !known.count(in)) std::abort();
    }
    known.insert(n.outputs.begin(), n.outputs.end());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto g = pf::engine::LoadModelFromBytes(bytes);
  Check(g.status());
  if (g.ok()) {
    CheckSorted(*g);
    auto shapes = pf::engine::InferShapes(*g);
    Check(shapes.status());
    auto hash = pf::engine::OnnxModelHash(bytes);
    Check(hash.status());
    auto meta = pf::engine::LoadModelMetadata(bytes);
    Check(meta.status());
    if (meta.ok() && hash.ok()) {
      if (auto it = meta->find(pf::engine::kManifestMetadataKey); it != meta->end()) {
        auto m = pf::engine::ParseManifest(it->second, "fuzz");
        Check(m.status());
        if (m.ok()) {
          Check(pf::engine::ValidateManifest(*m, g->inputs, g->outputs, *hash));
          // What we write, we read back.
          if (!pf::engine::ParseManifest(pf::engine::ManifestToJson(*m), "again").ok()) std::abort();
        }
      }
    }
  } else {
    Check(pf::engine::OnnxGraphBytes(bytes).status());
  }
  auto t = pf::engine::ReadNpy(bytes, "fuzz.npy");
  Check(t.status());
  if (t.ok()) {
    const size_t n = t->is_float() ? t->f.size() : t->i.size();
    if (static_cast<int64_t>(n) != pf::engine::NumElements(t->shape)) std::abort();
    auto again = pf::engine::ReadNpy(pf::engine::WriteNpy(*t), "again");
    if (!again.ok() || again->shape != t->shape) std::abort();
  }
  return 0;
}
