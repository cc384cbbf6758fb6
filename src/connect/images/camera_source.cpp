#include "connect/images/camera_source.h"

#include <arv.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace pf::images {
namespace {

// A GError as a Status message (and freed).
std::string TakeError(GError* e) {
  std::string m = e && e->message ? e->message : "unknown error";
  if (e) g_error_free(e);
  return m;
}

}  // namespace

Result<std::unique_ptr<CameraSource>> CameraSource::Open(const CameraOptions& o) {
  if (o.device.empty()) return InvalidArgument("camera: no device given (an IP address or an aravis device id)");
  if (o.buffers < 2 || o.buffers > 256) return InvalidArgument("camera: {} buffers (2..256)", o.buffers);
  std::unique_ptr<CameraSource> s(new CameraSource());
  s->options_ = o;
  GError* err = nullptr;
  ArvCamera* cam = arv_camera_new(o.device.c_str(), &err);
  if (!cam) return Unavailable("camera '{}': {}", o.device, TakeError(err));
  s->camera_ = cam;
  // The device's heartbeat thread says when the camera stopped answering (unplugged, power cut);
  // Next() then fails, and the caller reopens.
  if (ArvDevice* dev = arv_camera_get_device(cam))
    g_signal_connect(dev, "control-lost", G_CALLBACK(+[](ArvDevice*, gpointer self) {
                       static_cast<CameraSource*>(self)->control_lost_.store(true);
                     }),
                     s.get());
  arv_camera_set_acquisition_mode(cam, ARV_ACQUISITION_MODE_CONTINUOUS, &err);
  if (err) return Unavailable("camera '{}': continuous acquisition refused: {}", o.device, TakeError(err));
  if (o.frame_rate > 0) {
    arv_camera_set_frame_rate(cam, o.frame_rate, &err);
    if (err) return InvalidArgument("camera '{}': frame rate {}: {}", o.device, o.frame_rate, TakeError(err));
  }
  const guint payload = arv_camera_get_payload(cam, &err);
  if (err) return Unavailable("camera '{}': payload size: {}", o.device, TakeError(err));
  if (payload == 0 || payload > (256u << 20)) return Unavailable("camera '{}': payload of {} bytes", o.device, payload);
  ArvStream* stream = arv_camera_create_stream(cam, nullptr, nullptr, &err);
  if (!stream) return Unavailable("camera '{}': stream: {}", o.device, TakeError(err));
  s->stream_ = stream;
  for (int k = 0; k < o.buffers; ++k) arv_stream_push_buffer(stream, arv_buffer_new_allocate(payload));
  arv_camera_start_acquisition(cam, &err);
  if (err) return Unavailable("camera '{}': acquisition start: {}", o.device, TakeError(err));
  s->acquiring_ = true;
  return s;
}

CameraSource::~CameraSource() {
  if (camera_)
    if (ArvDevice* dev = arv_camera_get_device(static_cast<ArvCamera*>(camera_)))
      g_signal_handlers_disconnect_by_data(dev, this);
  if (acquiring_ && !control_lost_.load()) {
    GError* err = nullptr;
    arv_camera_stop_acquisition(static_cast<ArvCamera*>(camera_), &err);
    if (err) g_error_free(err);
  }
  if (stream_) g_object_unref(static_cast<ArvStream*>(stream_));
  if (camera_) g_object_unref(static_cast<ArvCamera*>(camera_));
}

Result<std::optional<CameraFrame>> CameraSource::Next(std::chrono::milliseconds timeout) {
  auto* stream = static_cast<ArvStream*>(stream_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (control_lost_.load()) return Unavailable("camera '{}': control lost (no heartbeat answer)", options_.device);
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::optional<CameraFrame>();
    ArvBuffer* buf = arv_stream_timeout_pop_buffer(stream, static_cast<guint64>(left.count()));
    if (!buf) return std::optional<CameraFrame>();
    // The buffer goes back to the ring whatever happens below.
    struct Requeue {
      ArvStream* s;
      ArvBuffer* b;
      ~Requeue() { arv_stream_push_buffer(s, b); }
    } requeue{stream, buf};
    if (arv_buffer_get_status(buf) != ARV_BUFFER_STATUS_SUCCESS) {
      ++counters_.incomplete;
      continue;
    }
    const ArvPixelFormat fmt = arv_buffer_get_image_pixel_format(buf);
    const int w = arv_buffer_get_image_width(buf), h = arv_buffer_get_image_height(buf);
    size_t size = 0;
    const auto* data = static_cast<const uint8_t*>(arv_buffer_get_image_data(buf, &size));
    CameraFrame f;
    f.image.width = w;
    f.image.height = h;
    f.frame_id = arv_buffer_get_frame_id(buf);
    f.camera_timestamp_ns = arv_buffer_get_timestamp(buf);
    f.system_timestamp_ns = arv_buffer_get_system_timestamp(buf);
    size_t need = 0;
    if (fmt == ARV_PIXEL_FORMAT_MONO_8) {
      f.image.channels = 1;
      f.image.bit_depth = 8;
      need = static_cast<size_t>(w) * h;
    } else if (fmt == ARV_PIXEL_FORMAT_MONO_10 || fmt == ARV_PIXEL_FORMAT_MONO_12 || fmt == ARV_PIXEL_FORMAT_MONO_16) {
      f.image.channels = 1;
      f.image.bit_depth = 16;
      need = static_cast<size_t>(w) * h * 2;
    } else if (fmt == ARV_PIXEL_FORMAT_RGB_8_PACKED) {
      f.image.channels = 3;
      f.image.bit_depth = 8;
      need = static_cast<size_t>(w) * h * 3;
    } else {
      ++counters_.unsupported;
      return Unimplemented("camera '{}': pixel format 0x{:08x} (Mono8, Mono10/12/16, RGB8 are taken)", options_.device,
                           static_cast<uint32_t>(fmt));
    }
    if (w <= 0 || h <= 0 || !data || size < need) {
      ++counters_.incomplete;
      continue;
    }
    f.image.format = ImageFormat::kPnm;  // raw samples; no file format
    f.image.data.assign(data, data + need);
    // Mono10/12 hold 0..1023/4095 in the low bits: scale to the 16-bit range the image declares.
    const int shift = fmt == ARV_PIXEL_FORMAT_MONO_10 ? 6 : fmt == ARV_PIXEL_FORMAT_MONO_12 ? 4 : 0;
    if (shift) {
      for (size_t k = 0; k + 1 < need; k += 2) {
        uint16_t v;
        std::memcpy(&v, &f.image.data[k], 2);
        v = static_cast<uint16_t>(std::min<uint32_t>(65535u, static_cast<uint32_t>(v) << shift));
        std::memcpy(&f.image.data[k], &v, 2);
      }
    }
    ++counters_.frames;
    return std::optional<CameraFrame>(std::move(f));
  }
}

}  // namespace pf::images
