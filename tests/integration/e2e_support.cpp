#include "e2e_support.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include <fmt/format.h>
#include <httplib.h>

namespace pf::e2e {

using namespace std::chrono_literals;

pid_t Spawn(const std::vector<std::string>& args) {
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

int WaitExit(pid_t pid, std::chrono::seconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < end) {
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(20ms);
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

bool WaitHealthy(int api_port, std::chrono::seconds timeout) {
  httplib::Client c("127.0.0.1", api_port);
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (auto r = c.Get("/api/v1/health"); r && r->status == 200) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

nlohmann::json GetJson(int port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(5, 0);
  auto r = c.Get(path);
  if (!r) return nlohmann::json();
  return nlohmann::json::parse(r->body, nullptr, false);
}

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
