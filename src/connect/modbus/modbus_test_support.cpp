#include "connect/modbus/modbus_test_support.h"

#include <cstdlib>
#include <thread>

#include "connect/modbus/modbus_source.h"

namespace pf::modbus::testing {

bool TestSink::Write(std::vector<Sample>&& batch) {
  std::lock_guard lock(mu_);
  for (auto& s : batch) samples_.push_back(std::move(s));
  return true;
}

void TestSink::Emit(Event&& event) {
  std::lock_guard lock(mu_);
  events_.push_back(std::move(event));
}

std::vector<Sample> TestSink::Samples() const {
  std::lock_guard lock(mu_);
  return samples_;
}

std::vector<Sample> TestSink::SamplesOf(TagId tag) const {
  std::lock_guard lock(mu_);
  std::vector<Sample> out;
  for (const auto& s : samples_)
    if (s.tag == tag) out.push_back(s);
  return out;
}

std::vector<Event> TestSink::Events() const {
  std::lock_guard lock(mu_);
  return events_;
}

bool TestSink::WaitFor(const std::function<bool(const std::vector<Sample>&)>& pred,
                       std::chrono::milliseconds timeout) const {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    bool ok = pred(Samples());
    if (ok || std::chrono::steady_clock::now() >= end) return ok;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::unique_ptr<SourceUnderTest> MakeSource(const std::vector<Field>& source_fields,
                                            const std::vector<TagSpecForTest>& tags, MetricsRegistry& metrics) {
  auto h = std::make_unique<SourceUnderTest>();
  h->tag_nodes.reserve(tags.size());
  for (size_t i = 0; i < tags.size(); ++i)
    h->tag_nodes.push_back(Table(fmt::format("sources[0].tags[{}]", i), static_cast<int>(10 + i), tags[i].fields));
  std::vector<SourceTagConfig> configs;
  for (size_t i = 0; i < tags.size(); ++i)
    configs.push_back({static_cast<TagId>(i + 1), tags[i].name, "press7", &h->tag_nodes[i]});
  auto src = ModbusConnector().create(Table("sources[0]", 1, source_fields), configs, metrics);
  h->status = src.status();
  if (src.ok()) h->source = std::move(*src);
  return h;
}

std::string TestDataDir() {
  if (const char* e = std::getenv("PF_MODBUS_TESTDATA")) return e;
  if (const char* s = std::getenv("PF_SOURCE_DIR")) return std::string(s) + "/src/connect/modbus/testdata";
  return "src/connect/modbus/testdata";
}

}  // namespace pf::modbus::testing
