#!/usr/bin/env bash
# The one place that downloads anything: Debian packages and, when ../shared is present, the
# protocol test peers (npm ci from their committed lockfile). Idempotent: a second run installs nothing.
# Build and tests run offline afterwards.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config make clang-14 libclang-rt-14-dev
  # libraries (permissive or LGPL, dynamically linked)
  libmodbus-dev libsqlite3-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libcpp-httplib-dev
  libtomlplusplus-dev libcli11-dev libssl-dev libsystemd-dev libpaho-mqttpp-dev libpaho-mqtt-dev openssl
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev socat sqlite3 tzdata python3-pymodbus python3-serial python3-serial-asyncio mbpoll
  mosquitto mosquitto-clients procps curl
  # SPC: control-chart plots (LGPL/MPL cairo) and the independent R reference computations (tests only)
  libcairo2-dev r-base-core
  # condition monitoring: FFT (KissFFT, BSD-3) and small linear algebra (Eigen, MPL-2.0 headers); numpy.fft is the
  # FFT benchmark peer
  libkissfft-dev libeigen3-dev python3-numpy
  # inference engine: ONNX protobuf schema (MIT), protobuf (BSD-3), oneDNN (Apache-2.0); ONNX backend node tests
  libonnx-dev libprotobuf-dev protobuf-compiler libdnnl-dev libonnx-testdata
  # tree models (XGBoost C API, Apache-2.0); the model hash in the manifest (OpenSSL libcrypto)
  libxgboost-dev libssl-dev
  # vision station: PNG (libpng, libpng licence) and JPEG (libjpeg-turbo, IJG/BSD) decoding; GigE Vision
  # cameras through aravis (LGPL-2.1+, linked dynamically; its pkg-config needs libusb's), and aravis'
  # fake camera (aravis-tools) as the test peer
  libpng-dev libjpeg62-turbo-dev libaravis-dev libusb-1.0-0-dev aravis-tools
  # packaging and service tests: dpkg-shlibdeps (cpack), systemd-analyze
  dpkg-dev systemd
)
# --training: the model recipes of scripts/train/ (the "cloud" side; `make test` does not need them):
# PyTorch on CPU (BSD-style), Pillow (HPND), ONNX export.
for arg in "$@"; do
  case "$arg" in
    --training) packages+=(python3-torch python3-torchvision python3-pil python3-onnx) ;;
    *) echo "install.sh: unknown option $arg (--training)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "install.sh: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y --no-install-recommends "${missing[@]}" ||
    { $sudo apt-get update -qq && $sudo apt-get install -y --no-install-recommends "${missing[@]}"; }
else
  echo "install.sh: Debian packages all present"
fi

shared="$here/../shared"
if [ -x "$shared/peers/peers.sh" ]; then
  "$shared/peers/peers.sh" install
else
  echo "install.sh: ../shared/peers not found; peer tests will report skipped"
fi

# ONNX Runtime (npm onnxruntime-node, pinned by its lockfile) is the inference engine's parity and
# benchmark peer (issue 8). --ignore-scripts: the package already holds the Linux x64 library and
# its install script would try to download it again.
if [ ! -d "$here/tests/support/ort/node_modules" ] && command -v npm >/dev/null; then
  (cd "$here/tests/support/ort" && npm ci --ignore-scripts --no-audit --no-fund)
fi
