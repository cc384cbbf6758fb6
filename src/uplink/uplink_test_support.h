#pragma once
// Test support for the uplink peer tests: a Paho subscriber that records every message, a
// mosquitto process with its own config (TLS listener, persistence) and test certificates made
// with the openssl CLI.
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace mqtt {
class async_client;
}

namespace pf::uplink::testing {

struct Received {
  std::string topic, payload;
  std::chrono::steady_clock::time_point at;
};

// Subscribes to a filter with QoS 1 and a persistent session (clean_session = false), reconnecting
// by itself when the broker restarts. Thread-safe.
class Subscriber {
 public:
  Subscriber(const std::string& uri, const std::string& filter, const std::string& client_id);
  ~Subscriber();
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  std::vector<Received> Messages() const;
  size_t Count() const;
  // Waits until pred(Count()) or the timeout; returns the final count.
  size_t WaitForCount(size_t n, std::chrono::milliseconds timeout) const;

 private:
  std::unique_ptr<mqtt::async_client> client_;
  mutable std::mutex mu_;
  std::vector<Received> messages_;
  bool ok_ = false;
  std::string error_;
};

// A mosquitto broker started by the test with its own config in dir. Stop() sends SIGTERM (the
// broker saves its persistence file) and waits.
class Broker {
 public:
  // extra_conf: lines added to the listener (TLS settings). persistence: keep sessions in dir.
  Broker(std::string dir, int port, std::string extra_conf, bool persistence);
  ~Broker();
  bool Start();  // true when it listens on the port
  void Stop();
  int port() const { return port_; }
  std::string Log() const;

 private:
  std::string dir_;
  int port_;
  std::string extra_, conf_;
  bool persistence_;
  pid_t pid_ = -1;
};

bool Listening(int port);  // something accepts TCP connections on 127.0.0.1:port
bool WaitListening(int port, std::chrono::milliseconds timeout);

// Creates ca.pem/ca.key, server.pem/server.key (SAN IP:127.0.0.1, DNS:localhost), client.pem/
// client.key signed by the CA, and other-ca.pem (an unrelated CA) in dir. Returns "" or the error.
std::string MakeCertificates(const std::string& dir);

}  // namespace pf::uplink::testing
