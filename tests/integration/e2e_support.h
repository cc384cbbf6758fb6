#pragma once
// The hub side of end-to-end tests: an MQTT subscriber standing in for the hub. Processes and the
// REST API: e2e_process.h (included).
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include <mqtt/async_client.h>
#include <nlohmann/json.hpp>

#include "e2e_process.h"

namespace pf::e2e {

// A hub-side subscriber with a persistent session (clean_session false) on "plantfloor/v1/#", QoS 1,
// reconnecting and resubscribing by itself; keeps every JSON payload in arrival order.
class HubSubscriber : public mqtt::callback, public mqtt::iaction_listener {
 public:
  HubSubscriber(int port, std::string client_id);
  void Connect();
  // Waits until the subscription count passes `than` (a (re)subscription completed).
  bool WaitSubscribed(int than, std::chrono::seconds timeout);
  int subscribed() const { return subscribed_.load(); }
  std::vector<nlohmann::json> Messages();
  size_t Count();
  void Disconnect();

  // Paho calls back on its own thread: never wait for a token there (the SUBACK arrives on it).
  void connected(const std::string&) override;
  void message_arrived(mqtt::const_message_ptr m) override;
  void on_success(const mqtt::token&) override { ++subscribed_; }
  void on_failure(const mqtt::token&) override {}

 private:
  mqtt::async_client client_;
  std::mutex mu_;
  std::vector<nlohmann::json> messages_;
  std::atomic<int> subscribed_{0};
};

}  // namespace pf::e2e
