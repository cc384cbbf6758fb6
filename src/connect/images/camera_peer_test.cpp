// CameraSource against aravis' fake GigE Vision camera (arv-fake-gv-camera-0.8, the peer), started
// on 127.0.0.1 by the test: frames arrive complete, 512 x 512 Mono8 (the fake camera's default),
// with increasing frame ids and a picture that changes; a camera that does not exist is an error
// naming it. Skipped (77) when aravis-tools is not installed.
#include "connect/images/camera_source.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "testing.h"

namespace pf::images {
namespace {

using namespace std::chrono_literals;
constexpr const char* kFakeCamera = "/usr/bin/arv-fake-gv-camera-0.8";

class FakeCamera {
 public:
  FakeCamera() {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl(kFakeCamera, kFakeCamera, "-i", "127.0.0.1", "-s", "PFTEST", static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~FakeCamera() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }

 private:
  pid_t pid_ = -1;
};

TEST(CameraPeer, FakeGigECameraDeliversCompleteFrames) {
  pf::testing::RequireOrSkip(kFakeCamera, "aravis-tools (arv-fake-gv-camera-0.8) not installed");
  FakeCamera fake;
  CameraOptions o;
  o.device = "127.0.0.1";
  o.frame_rate = 20;
  Result<std::unique_ptr<CameraSource>> cam = Unavailable("not yet");
  for (int k = 0; k < 50 && !cam.ok(); ++k) {
    std::this_thread::sleep_for(100ms);
    cam = CameraSource::Open(o);
  }
  ASSERT_TRUE(cam.ok()) << cam.status().ToString();
  uint64_t last_id = 0;
  std::vector<uint8_t> first;
  bool changed = false;
  for (int k = 0; k < 8; ++k) {
    auto f = (*cam)->Next(3s);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    ASSERT_TRUE(f->has_value()) << "no frame within 3 s";
    const Image& img = (*f)->image;
    EXPECT_EQ(img.width, 512);
    EXPECT_EQ(img.height, 512);
    EXPECT_EQ(img.channels, 1);
    EXPECT_EQ(img.bit_depth, 8);
    ASSERT_EQ(img.data.size(), 512u * 512u);
    if (k > 0) EXPECT_GT((*f)->frame_id, last_id);
    last_id = (*f)->frame_id;
    if (first.empty()) first = img.data;
    else changed |= img.data != first;
  }
  EXPECT_TRUE(changed) << "the fake camera's pattern moves from frame to frame";
  EXPECT_EQ((*cam)->counters().frames, 8u);
}

TEST(CameraPeer, MissingCameraIsNamed) {
  CameraOptions o;
  o.device = "Nobody-Camera-0000";
  auto cam = CameraSource::Open(o);
  ASSERT_FALSE(cam.ok());
  EXPECT_NE(cam.status().message().find("Nobody-Camera-0000"), std::string::npos) << cam.status().ToString();
}

}  // namespace
}  // namespace pf::images
