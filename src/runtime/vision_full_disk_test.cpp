// A vision station on a full disk (issue 10): the watched folder on a 2 MiB tmpfs, 40 parts waiting,
// the disk filled to ENOSPC by another file. Journaling fails, so Run stops with the error (no verdict
// reaches the registers unrecorded) and the claims stay in .processing/; once space returns, a new
// Run judges each of them exactly once, the journal holds only complete lines and the sequence has
// no gaps and no repeats. Needs root for the tmpfs: exit 77 (skipped) otherwise.
#include <sys/mount.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <thread>

#include "apps/vision_test_model.h"
#include "engine/model.h"
#include "runtime/vision_station.h"
#include "testing.h"

namespace pf {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

TEST(VisionFullDisk, NothingJudgedTwiceNothingLostWhenTheDiskFills) {
  pf::testing::TempDir tmp;
  const std::string dir = tmp.path() + "/watch";
  fs::create_directories(dir);
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=2m") != 0) {
    std::cerr << "SKIPPED: cannot mount a tmpfs (needs root): " << std::strerror(errno) << "\n";
    std::exit(pf::testing::kSkipReturnCode);
  }
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{dir};

  auto m = engine::OnnxModel::Load(apps::testing::BrightnessModel(4), "brightness.onnx", {});
  ASSERT_TRUE(m.ok());
  apps::VisionOptions vo;
  vo.good_classes = {"good"};
  StationOptions so;
  so.folder.dir = dir;
  so.folder.settle_ms = 50;
  so.audit_rate = 0;
  so.review_budget_bytes = 0;
  auto st = VisionStation::Create(apps::VisionInspector::Create(std::move(*m), vo).value(), so);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  const std::string journal = dir + "/.plantfloor-inspections.jsonl";

  // A first part with space left.
  const auto deliver = [&](const std::string& name, int value) {
    std::ofstream(dir + "/.w.tmp", std::ios::binary) << apps::testing::FlatPgm(4, 4, value);
    fs::rename(dir + "/.w.tmp", dir + "/" + name);
  };
  std::atomic<bool> stop{false};
  std::vector<std::string> lines;
  std::mutex mu;
  const auto echo = [&](const std::string& l) {
    std::lock_guard<std::mutex> lock(mu);
    lines.push_back(l);
  };
  const auto count = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return lines.size();
  };
  {
    std::thread t([&] { EXPECT_TRUE((*st)->Run(stop, echo).ok()); });
    deliver("p1.pgm", 250);
    for (int k = 0; k < 200 && count() < 1; ++k) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    stop = true;
    t.join();
  }
  ASSERT_EQ(count(), 1u);

  // 40 more parts, then the disk is filled: the journal's last page takes a few more records, then
  // journaling fails and Run ends with the error.
  constexpr int kParts = 41;
  for (int k = 2; k <= kParts; ++k) deliver(fmt::format("p{}.pgm", k), k % 2 ? 5 : 250);
  {
    std::ofstream filler(dir + "/.filler", std::ios::binary);
    const std::string block(64 * 1024, 'x');
    while (filler.write(block.data(), static_cast<std::streamsize>(block.size()))) {
    }
  }
  stop = false;
  Status failed = Status::Ok();
  std::atomic<bool> ended{false};
  std::thread t([&] {
    failed = (*st)->Run(stop, echo);
    ended = true;
  });
  for (int k = 0; k < 300 && !ended.load(); ++k) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  stop = true;
  t.join();
  EXPECT_FALSE(failed.ok()) << "journaling on a full disk must fail";
  const size_t before = count();
  EXPECT_LT(before, static_cast<size_t>(kParts)) << "the disk never filled";
  {
    std::ifstream in(journal);
    size_t n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    EXPECT_EQ(n, before) << "every verdict echoed has its journal line, and only those";
  }

  // Space returns: the claims left in .processing/ are judged, each once.
  fs::remove(dir + "/.filler");
  stop = false;
  std::thread t2([&] { EXPECT_TRUE((*st)->Run(stop, echo).ok()); });
  for (int k = 0; k < 500 && count() < static_cast<size_t>(kParts); ++k) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  stop = true;
  t2.join();
  ASSERT_EQ(count(), static_cast<size_t>(kParts));
  std::set<std::string> files;
  std::vector<uint32_t> seqs;
  std::ifstream in(journal);
  for (std::string line; std::getline(in, line);) {
    auto j = Json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << "a torn line in the journal: " << line;
    files.insert(j["file"].get<std::string>());
    seqs.push_back(j["sequence"].get<uint32_t>());
  }
  std::set<std::string> want;
  std::vector<uint32_t> want_seqs;
  for (int k = 1; k <= kParts; ++k) {
    want.insert(fmt::format("p{}.pgm", k));
    want_seqs.push_back(static_cast<uint32_t>(k));
  }
  EXPECT_EQ(files, want);
  EXPECT_EQ(seqs, want_seqs);
  EXPECT_TRUE(fs::is_empty(dir + "/.processing"));
}

}  // namespace
}  // namespace pf
