#pragma once
// A GigE Vision (or USB3 Vision) camera through aravis 0.8 (libaravis, LGPL-2.1+, linked dynamically)
// as an image source for the vision station (issue 10 item 1). Continuous acquisition into a ring of
// buffers; Next() returns the next complete frame as an images::Image: Mono8 -> 8-bit gray;
// Mono10/12/16 (unpacked, little-endian) -> 16-bit gray; RGB8 packed -> 8-bit RGB. Incomplete or
// corrupt frames (lost packets) are counted and skipped, never inspected as if whole.
// The peer in tests is aravis' own fake camera, arv-fake-gv-camera-0.8.
// Not thread-safe: one thread calls Next(). A camera that stops answering its heartbeat (aravis'
// "control-lost") makes Next() fail; the station then reopens it.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "connect/images/image.h"
#include "core/status.h"

namespace pf::images {

struct CameraOptions {
  std::string device;      // an IP address ("192.168.10.20") or an aravis device id ("Aravis-Fake-GV01")
  double frame_rate = 0;   // frames per second; 0: the camera's setting
  int buffers = 8;
};

struct CameraFrame {
  Image image;
  uint64_t frame_id = 0;
  uint64_t camera_timestamp_ns = 0;  // the camera's clock
  uint64_t system_timestamp_ns = 0;  // when the host received it (aravis: wall clock, ns since 1970); 0 unknown
};

struct CameraCounters {
  uint64_t frames = 0, incomplete = 0, unsupported = 0;
};

class CameraSource {
 public:
  // Errors: no such camera (the device named), a payload it cannot allocate, acquisition refused.
  static Result<std::unique_ptr<CameraSource>> Open(const CameraOptions& options);
  ~CameraSource();
  CameraSource(const CameraSource&) = delete;
  CameraSource& operator=(const CameraSource&) = delete;

  // The next complete frame within `timeout`; nullopt when none came.
  Result<std::optional<CameraFrame>> Next(std::chrono::milliseconds timeout);
  const CameraCounters& counters() const { return counters_; }
  const std::string& device() const { return options_.device; }

 private:
  CameraSource() = default;
  CameraOptions options_;
  void* camera_ = nullptr;  // ArvCamera*
  void* stream_ = nullptr;  // ArvStream*
  bool acquiring_ = false;
  std::atomic<bool> control_lost_{false};  // set by aravis' heartbeat thread ("control-lost")
  CameraCounters counters_;
};

}  // namespace pf::images
