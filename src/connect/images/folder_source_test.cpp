// FolderSource on a real directory with real inotify: rename-in and close-after-write are taken at
// once, a file still being written (open, size changing) only after it settles, hidden and foreign
// files never; claims survive a "crash" (a new FolderSource lists them as pending) and Done moves them.
#include "connect/images/folder_source.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "core/time.h"
#include "testing.h"

namespace pf::images {
namespace {

using namespace std::chrono_literals;

void WriteFile(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

TEST(FolderSource, RenameAndCloseAreCompleteSlowWritersSettle) {
  pf::testing::TempDir dir;
  FolderOptions o;
  o.dir = dir.path();
  o.settle_ms = 300;
  auto src = FolderSource::Open(o);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  // Rename-in: written under a hidden name first.
  WriteFile(dir.path() + "/.a.png.tmp", "PNGDATA");
  std::filesystem::rename(dir.path() + "/.a.png.tmp", dir.path() + "/a.png");
  auto a = (*src)->Next(500ms);
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->name, "a.png");
  EXPECT_TRUE(std::filesystem::exists((*a)->path));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/a.png"));
  // Close after write; a text file and a hidden file are ignored.
  WriteFile(dir.path() + "/notes.txt", "x");
  WriteFile(dir.path() + "/.hidden.jpg", "x");
  WriteFile(dir.path() + "/b.jpg", "JPEGDATA");
  auto b = (*src)->Next(500ms);
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_EQ((*b)->name, "b.jpg");
  // A writer that keeps the file open: not taken while it grows, taken once it has settled.
  const int fd = ::open((dir.path() + "/c.bmp").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  auto last_write = std::chrono::steady_clock::now();
  for (int k = 0; k < 5; ++k) {
    ASSERT_EQ(::write(fd, "BMBMBMBM", 8), 8);
    last_write = std::chrono::steady_clock::now();
    auto none = (*src)->Next(100ms);
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value()) << "taken while still growing, step " << k;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::optional<ClaimedFile> c;
  while (!c && std::chrono::steady_clock::now() - t0 < 3s) {
    auto r = (*src)->Next(100ms);
    ASSERT_TRUE(r.ok());
    c = *r;
  }
  ::close(fd);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->name, "c.bmp");
  EXPECT_GE(std::chrono::steady_clock::now() - last_write, 280ms);  // settle_ms after the last growth
  auto none = (*src)->Next(100ms);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());  // notes.txt, .hidden.jpg
  // Done moves to .done/.
  ASSERT_TRUE((*src)->Done(**a).ok());
  EXPECT_FALSE(std::filesystem::exists((*a)->path));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path() + "/.done"), {}), 1);
}

// The arrival (the part-id trigger) is when the file appeared, not when the station got round to it:
// files renamed in while the station was busy keep their own times, in order; a file written in place
// keeps the time it was created, not the time it was closed.
TEST(FolderSource, ArrivalIsWhenTheFileAppearedNotWhenItWasTaken) {
  pf::testing::TempDir dir;
  FolderOptions o;
  o.dir = dir.path();
  o.settle_ms = 2000;
  auto src = FolderSource::Open(o);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  std::vector<int64_t> renamed_at;
  for (const char* name : {"a.png", "b.png"}) {
    WriteFile(dir.path() + "/.tmp", "PNGDATA");
    renamed_at.push_back(MonotonicNs());
    std::filesystem::rename(dir.path() + "/.tmp", dir.path() + "/" + name);
    std::this_thread::sleep_for(150ms);
  }
  const int64_t created = MonotonicNs();
  const int fd = ::open((dir.path() + "/c.png").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "PNG", 3), 3);
  std::this_thread::sleep_for(300ms);  // the station is busy with something else all this time
  ASSERT_EQ(::write(fd, "DATA", 4), 4);
  ::close(fd);
  std::vector<ClaimedFile> got;
  for (int k = 0; k < 3; ++k) {
    auto f = (*src)->Next(1000ms);
    ASSERT_TRUE(f.ok() && f->has_value());
    got.push_back(**f);
  }
  const int64_t tol = 40'000'000;  // file-system clock granularity and scheduling
  ASSERT_EQ(got[0].name, "a.png");
  ASSERT_EQ(got[1].name, "b.png");
  ASSERT_EQ(got[2].name, "c.png");
  EXPECT_NEAR(static_cast<double>(got[0].arrived_mono_ns), static_cast<double>(renamed_at[0]), tol);
  EXPECT_NEAR(static_cast<double>(got[1].arrived_mono_ns), static_cast<double>(renamed_at[1]), tol);
  EXPECT_NEAR(static_cast<double>(got[2].arrived_mono_ns), static_cast<double>(created), tol);
  EXPECT_GT(got[2].detected_mono_ns - got[2].arrived_mono_ns, 250'000'000);  // complete when closed
}

TEST(FolderSource, ClaimsSurviveARestartAndFilesPresentAtStartSettle) {
  pf::testing::TempDir dir;
  FolderOptions o;
  o.dir = dir.path();
  o.settle_ms = 100;
  WriteFile(dir.path() + "/early.pgm", "P5");  // there before the source opens
  std::string claimed;
  {
    auto src = FolderSource::Open(o);
    ASSERT_TRUE(src.ok());
    auto e = (*src)->Next(1s);
    ASSERT_TRUE(e.ok() && e->has_value());
    EXPECT_EQ((*e)->name, "early.pgm");
    claimed = (*e)->path;
    WriteFile(dir.path() + "/second.pgm", "P5");
    auto s = (*src)->Next(1s);
    ASSERT_TRUE(s.ok() && s->has_value());
    // "Crash": neither is marked done.
  }
  auto again = FolderSource::Open(o);
  ASSERT_TRUE(again.ok());
  const auto pending = (*again)->Pending();
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].path, claimed);
  EXPECT_EQ(pending[0].name, "early.pgm");
  EXPECT_EQ(pending[1].name, "second.pgm");
  auto none = (*again)->Next(200ms);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());  // nothing is taken twice
  for (const auto& p : pending) ASSERT_TRUE((*again)->Done(p).ok());
  EXPECT_TRUE((*again)->Pending().empty());
  EXPECT_FALSE(FolderSource::Open({dir.path() + "/missing"}).ok());
}

}  // namespace
}  // namespace pf::images
