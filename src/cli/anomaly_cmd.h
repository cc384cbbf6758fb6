#pragma once
// `plantfloor anomaly`: the vision station's anomaly mode (apps/vision_anomaly.h), trained on good
// parts only.
//   plantfloor anomaly fit --good-list L --holdout-list H --image-dir D --out DIR [--target-frr 0.05]
//       the int8 texture model (DIR/texture.onnx, quantized on the good images) and the detector
//       (DIR/anomaly.json: Gaussians, threshold at the target false-reject rate of the held-out goods)
//   plantfloor anomaly eval --good-class C --train-list L --holdout-list H --test-list T --image-dir D
//       [--target-frr 0.05] [--json]
//       the experiment: fit on the C images of L, threshold on those of H, then on T: the AUROC of C
//       against every other class, the same for the gray-statistics baseline, and the realised
//       false-reject rate on T's C images with the binomial 95 % interval of the target.
// Lists hold image names, the class before the last '_' (NEU-DET's naming). Exit 0, 2 bad input.
#include <string>

namespace CLI {
class App;
}

namespace pf {
void AddAnomalyCommand(CLI::App& app);
}  // namespace pf
