#include "uplink_test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <mqtt/async_client.h>

#include "testing.h"

namespace pf::uplink::testing {

using namespace std::chrono_literals;

Subscriber::Subscriber(const std::string& uri, const std::string& filter, const std::string& client_id) {
  try {
    client_ = std::make_unique<mqtt::async_client>(uri, client_id, nullptr);
    client_->set_message_callback([this](mqtt::const_message_ptr m) {
      std::lock_guard l(mu_);
      messages_.push_back({m->get_topic(), m->get_payload_str(), std::chrono::steady_clock::now()});
    });
    mqtt::connect_options opts;
    opts.set_mqtt_version(MQTTVERSION_3_1_1);
    opts.set_clean_session(false);
    opts.set_automatic_reconnect(std::chrono::milliseconds(50), std::chrono::milliseconds(300));
    opts.set_keep_alive_interval(5);
    client_->connect(opts)->wait_for(5s);
    client_->subscribe(filter, 1)->wait_for(5s);
    ok_ = true;
  } catch (const mqtt::exception& e) {
    error_ = e.what();
  }
}

Subscriber::~Subscriber() {
  try {
    if (client_ && client_->is_connected()) client_->disconnect(500)->wait_for(1s);
  } catch (const mqtt::exception&) {
  }
}

std::vector<Received> Subscriber::Messages() const {
  std::lock_guard l(mu_);
  return messages_;
}
size_t Subscriber::Count() const {
  std::lock_guard l(mu_);
  return messages_.size();
}
size_t Subscriber::WaitForCount(size_t n, std::chrono::milliseconds timeout) const {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (Count() < n && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(10ms);
  return Count();
}

Broker::Broker(std::string dir, int port, std::string extra_conf, bool persistence)
    : dir_(std::move(dir)), port_(port), extra_(std::move(extra_conf)), persistence_(persistence) {
  conf_ = dir_ + "/mosquitto.conf";
  std::ofstream f(conf_);
  f << "per_listener_settings false\n";
  if (::geteuid() == 0) f << "user root\n";  // else mosquitto drops to a user that cannot read dir
  f << "listener " << port_ << " 127.0.0.1\n" << extra_ << "\n";
  f << "allow_anonymous true\nmax_queued_messages 100000\nmax_inflight_messages 100\n";
  f << "persistence " << (persistence_ ? "true" : "false") << "\n";
  if (persistence_) f << "persistence_location " << dir_ << "/\n";
  f << "log_dest file " << dir_ << "/mosquitto.log\nlog_type all\n";
}

Broker::~Broker() { Stop(); }

bool Listening(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

bool Broker::Start() {
  pid_ = ::fork();
  if (pid_ == 0) {
    ::execl("/usr/sbin/mosquitto", "mosquitto", "-c", conf_.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (int i = 0; i < 500; ++i) {
    if (Listening(port_)) return true;
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

void Broker::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string Broker::Log() const {
  std::ifstream f(dir_ + "/mosquitto.log");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool WaitListening(int port, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (!Listening(port))
    if (std::chrono::steady_clock::now() > end) return false;
    else std::this_thread::sleep_for(10ms);
  return true;
}

std::string MakeCertificates(const std::string& dir) {
  const std::string d = dir;
  std::vector<std::string> steps = {
      fmt::format("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=pf-test-ca -keyout {0}/ca.key -out {0}/ca.pem", d),
      fmt::format("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca -keyout {0}/other-ca.key -out {0}/other-ca.pem", d),
      fmt::format("printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > {0}/server.ext", d),
      fmt::format("openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout {0}/server.key -out {0}/server.csr", d),
      fmt::format("openssl x509 -req -in {0}/server.csr -CA {0}/ca.pem -CAkey {0}/ca.key -CAcreateserial -days 2 "
                  "-extfile {0}/server.ext -out {0}/server.pem", d),
      fmt::format("openssl req -newkey rsa:2048 -nodes -subj /CN=plantfloor-edge1 -keyout {0}/client.key -out {0}/client.csr", d),
      fmt::format("openssl x509 -req -in {0}/client.csr -CA {0}/ca.pem -CAkey {0}/ca.key -CAcreateserial -days 2 "
                  "-out {0}/client.pem", d),
  };
  for (const std::string& s : steps) {
    std::string out;
    if (pf::testing::Run(s, &out) != 0) return s + ": " + out;
  }
  return "";
}

}  // namespace pf::uplink::testing
