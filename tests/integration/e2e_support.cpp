#include "e2e_support.h"

#include <thread>

#include <fmt/format.h>

namespace pf::e2e {

using namespace std::chrono_literals;

HubSubscriber::HubSubscriber(int port, std::string client_id)
    : client_(fmt::format("tcp://127.0.0.1:{}", port), std::move(client_id), mqtt::create_options(MQTTVERSION_3_1_1)) {
  client_.set_callback(*this);
}

void HubSubscriber::Connect() {
  client_.connect(mqtt::connect_options_builder().clean_session(false).automatic_reconnect(200ms, 1s).finalize())->wait();
}

bool HubSubscriber::WaitSubscribed(int than, std::chrono::seconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (subscribed_.load() <= than && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(50ms);
  return subscribed_.load() > than;
}

void HubSubscriber::connected(const std::string&) { client_.subscribe("plantfloor/v1/#", 1, nullptr, *this); }

void HubSubscriber::message_arrived(mqtt::const_message_ptr m) {
  auto j = nlohmann::json::parse(m->get_payload_str(), nullptr, false);
  if (!j.is_object()) return;
  std::lock_guard lk(mu_);
  messages_.push_back(std::move(j));
}

std::vector<nlohmann::json> HubSubscriber::Messages() {
  std::lock_guard lk(mu_);
  return messages_;
}

size_t HubSubscriber::Count() {
  std::lock_guard lk(mu_);
  return messages_.size();
}

void HubSubscriber::Disconnect() {
  try {
    client_.disconnect()->wait_for(2s);
  } catch (const mqtt::exception&) {
  }
}

}  // namespace pf::e2e
