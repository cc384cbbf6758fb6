#pragma once
// Status and Result<T>: every fallible call in plantfloor returns one of these.
//
// What a code means for the caller:
//   kInvalidArgument    the input is wrong; retrying the same input fails again (don't retry)
//   kNotFound           the named thing does not exist (don't retry)
//   kAlreadyExists      a duplicate (don't retry)
//   kFailedPrecondition the system is not in a state to do this (don't retry until the state changes)
//   kOutOfRange         a value or position outside what is valid (don't retry)
//   kUnavailable        transient: a peer is down, a connection broke, a timeout (retry with backoff)
//   kDeadlineExceeded   the deadline passed before the work finished (retry is the caller's choice)
//   kResourceExhausted  a queue, disk or memory budget is full (retry later, after space is freed)
//   kDataLoss           data is missing or corrupt and cannot be recovered (report, never retry)
//   kPermissionDenied   refused by policy (read-only connector, auth hook)
//   kUnimplemented      not supported by this build or this peer
//   kInternal           a bug: an invariant broke
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace pf {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kOutOfRange,
  kUnavailable,
  kDeadlineExceeded,
  kResourceExhausted,
  kDataLoss,
  kPermissionDenied,
  kUnimplemented,
  kInternal,
};

std::string_view StatusCodeName(StatusCode code);  // "invalid_argument", ...

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid_argument: modbus 'press7': register 40017: ..."
  std::string ToString() const;
  // Prefixes context on the way up: "modbus 'press7': " + message.
  Status WithContext(std::string_view context) const;
  void IgnoreError() const {}

  bool operator==(const Status& other) const = default;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename... Args>
Status Error(StatusCode code, fmt::format_string<Args...> f, Args&&... args) {
  return Status(code, fmt::format(f, std::forward<Args>(args)...));
}
#define PF_DEFINE_ERROR_HELPER(Name, Code)                                 \
  template <typename... Args>                                              \
  Status Name(fmt::format_string<Args...> f, Args&&... args) {             \
    return Status(StatusCode::Code, fmt::format(f, std::forward<Args>(args)...)); \
  }
PF_DEFINE_ERROR_HELPER(InvalidArgument, kInvalidArgument)
PF_DEFINE_ERROR_HELPER(NotFound, kNotFound)
PF_DEFINE_ERROR_HELPER(AlreadyExists, kAlreadyExists)
PF_DEFINE_ERROR_HELPER(FailedPrecondition, kFailedPrecondition)
PF_DEFINE_ERROR_HELPER(OutOfRange, kOutOfRange)
PF_DEFINE_ERROR_HELPER(Unavailable, kUnavailable)
PF_DEFINE_ERROR_HELPER(DeadlineExceeded, kDeadlineExceeded)
PF_DEFINE_ERROR_HELPER(ResourceExhausted, kResourceExhausted)
PF_DEFINE_ERROR_HELPER(DataLoss, kDataLoss)
PF_DEFINE_ERROR_HELPER(PermissionDenied, kPermissionDenied)
PF_DEFINE_ERROR_HELPER(Unimplemented, kUnimplemented)
PF_DEFINE_ERROR_HELPER(Internal, kInternal)
#undef PF_DEFINE_ERROR_HELPER

// Result<T>: a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<1>(v_);
  }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T value_or(T other) const { return ok() ? value() : other; }

 private:
  std::variant<T, Status> v_;
};

}  // namespace pf

#define PF_CONCAT_INNER(a, b) a##b
#define PF_CONCAT(a, b) PF_CONCAT_INNER(a, b)

#define PF_RETURN_IF_ERROR(expr)            \
  do {                                      \
    ::pf::Status pf_status_ = (expr);       \
    if (!pf_status_.ok()) return pf_status_; \
  } while (0)

// PF_RETURN_IF_ERROR_CTX(expr, "context {}", x): adds context on the way up.
#define PF_RETURN_IF_ERROR_CTX(expr, ...)                                   \
  do {                                                                      \
    ::pf::Status pf_status_ = (expr);                                       \
    if (!pf_status_.ok()) return pf_status_.WithContext(fmt::format(__VA_ARGS__)); \
  } while (0)

#define PF_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()

#define PF_ASSIGN_OR_RETURN(lhs, expr) PF_ASSIGN_OR_RETURN_IMPL(PF_CONCAT(pf_result_, __LINE__), lhs, expr)
