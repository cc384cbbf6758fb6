#pragma once
// Shared by the Modbus peer tests: a SampleSink that records, and a source built from fields.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "connect/modbus/modbus_test_config.h"
#include "connect/source.h"

namespace pf::modbus::testing {

// Stores every sample and event under a mutex; thread-safe.
class TestSink : public SampleSink {
 public:
  bool Write(std::vector<Sample>&& batch) override;
  bool WriteBlock(Block&& block) override { return true; }
  void Emit(Event&& event) override;
  std::vector<Sample> Samples() const;
  std::vector<Sample> SamplesOf(TagId tag) const;
  std::vector<Event> Events() const;
  // Polls until pred(samples) is true or the timeout passes; returns pred's last answer.
  bool WaitFor(const std::function<bool(const std::vector<Sample>&)>& pred, std::chrono::milliseconds timeout) const;

 private:
  mutable std::mutex mu_;
  std::vector<Sample> samples_;
  std::vector<Event> events_;
};

struct TagSpecForTest {
  std::string name;
  std::vector<Field> fields;
};

// Builds and creates a modbus source; the config nodes are kept alive inside the returned holder.
struct SourceUnderTest {
  std::vector<ConfigNode> tag_nodes;
  std::unique_ptr<Source> source;
  Status status;
};
std::unique_ptr<SourceUnderTest> MakeSource(const std::vector<Field>& source_fields,
                                            const std::vector<TagSpecForTest>& tags, MetricsRegistry& metrics);

// ${PF_MODBUS_TESTDATA} or the source folder's testdata/.
std::string TestDataDir();

}  // namespace pf::modbus::testing
