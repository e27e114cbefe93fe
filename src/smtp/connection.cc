// A client's connection: line reads with a deadline, writes, and the switch to TLS.
#include <fmt/format.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "smtp/internal.h"

namespace dmarc::smtp::internal {

namespace {

constexpr std::size_t kReadChunk = 16 * 1024;
constexpr int kStopCheckMs = 250;  // how soon a blocked read notices a stop

int MillisUntil(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, kStopCheckMs));
}

}  // namespace

Connection::~Connection() {
  if (ssl_) {
    SSL_shutdown(ssl_);
    SSL_free(ssl_);
  }
  ::close(fd_);
}

bool Connection::WaitReadable(Clock::time_point deadline, bool& timed_out) {
  for (;;) {
    if (stop_) return false;
    if (Clock::now() >= deadline) {
      timed_out = true;
      return false;
    }
    pollfd p{fd_, POLLIN, 0};
    const int n = ::poll(&p, 1, MillisUntil(deadline));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

bool Connection::Fill(Clock::time_point deadline, bool& timed_out) {
  if (start_ > 0 && start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  }
  char chunk[kReadChunk];
  for (;;) {
    if (!(ssl_ && SSL_pending(ssl_) > 0) && !WaitReadable(deadline, timed_out)) return false;
    const long n = ssl_ ? SSL_read(ssl_, chunk, sizeof chunk) : ::recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
    if (ssl_) {
      const int e = SSL_get_error(ssl_, static_cast<int>(n));
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) continue;
      return false;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    return false;
  }
}

ReadResult Connection::ReadLine(std::string& line, bool& crlf, std::size_t max_bytes,
                                Clock::time_point deadline) {
  bool too_long = false;
  line.clear();
  for (;;) {
    const std::size_t nl = buffer_.find('\n', start_);
    const std::size_t end = nl == std::string::npos ? buffer_.size() : nl;
    if (!too_long && end - start_ > max_bytes) too_long = true;
    if (too_long) {
      start_ = end;  // the line's bytes so far are dropped
    }
    if (nl != std::string::npos) {
      if (!too_long) line.assign(buffer_, start_, nl - start_);
      start_ = nl + 1;
      // A line too long to keep is taken as ended by CR LF: what follows may end the data.
      crlf = too_long || (!line.empty() && line.back() == '\r');
      if (!too_long && crlf) line.pop_back();
      return too_long ? ReadResult::kTooLong : ReadResult::kLine;
    }
    bool timed_out = false;
    if (!Fill(deadline, timed_out)) return timed_out ? ReadResult::kTimeout : ReadResult::kClosed;
  }
}

void Connection::DropBuffered() {
  buffer_.clear();
  start_ = 0;
}

bool Connection::Write(std::string_view text) {
  while (!text.empty()) {
    const long n = ssl_ ? SSL_write(ssl_, text.data(), static_cast<int>(text.size()))
                        : ::send(fd_, text.data(), text.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      if (!ssl_ && n < 0 && errno == EINTR) continue;
      return false;
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

Status Connection::StartTls(SSL_CTX* ctx, Clock::time_point deadline) {
  ssl_ = SSL_new(ctx);
  if (!ssl_ || SSL_set_fd(ssl_, fd_) != 1) return MakeError("TLS: cannot make a session");
  for (;;) {
    ERR_clear_error();
    const int r = SSL_accept(ssl_);
    if (r == 1) return Ok();
    const int e = SSL_get_error(ssl_, r);
    bool timed_out = false;
    if (e == SSL_ERROR_WANT_READ && WaitReadable(deadline, timed_out)) continue;
    if (e == SSL_ERROR_WANT_WRITE) continue;
    char why[256] = "closed";
    if (const unsigned long code = ERR_get_error()) ERR_error_string_n(code, why, sizeof why);
    SSL_free(ssl_);
    ssl_ = nullptr;
    return MakeError(fmt::format("TLS handshake failed: {}", timed_out ? "timeout" : why));
  }
}

}  // namespace dmarc::smtp::internal
