// The parts of the SMTP receiver: a client's connection (plain or TLS), the spool writer and the
// protocol session. Not for other modules.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "base/result.h"
#include "smtp/smtp.h"

namespace dmarc::smtp::internal {

using Clock = std::chrono::steady_clock;

enum class ReadResult { kLine, kTimeout, kClosed, kTooLong };

// One client's socket, its read buffer, and the TLS session once STARTTLS is done.
class Connection {
 public:
  Connection(int fd, const std::atomic<bool>& stop) : fd_(fd), stop_(stop) {}
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The next line, without its line end; `crlf` says whether it ended with CR LF (not a bare LF).
  // Waits until `deadline`; a line longer than max_bytes is kTooLong (the rest of it is dropped).
  ReadResult ReadLine(std::string& line, bool& crlf, std::size_t max_bytes,
                      Clock::time_point deadline);
  bool Write(std::string_view text);
  // Bytes received and not yet read as lines (a pipelined client's next commands).
  bool HasBuffered() const { return start_ < buffer_.size(); }
  void DropBuffered();
  // The TLS handshake as the server, after "220 Ready to start TLS".
  Status StartTls(SSL_CTX* ctx, Clock::time_point deadline);
  bool tls() const { return ssl_ != nullptr; }
  int fd() const { return fd_; }

 private:
  // Reads more into buffer_; false on close, error, timeout (timed_out set) or a stop.
  bool Fill(Clock::time_point deadline, bool& timed_out);
  bool WaitReadable(Clock::time_point deadline, bool& timed_out);

  int fd_;
  const std::atomic<bool>& stop_;
  SSL* ssl_ = nullptr;
  std::string buffer_;
  std::size_t start_ = 0;
};

// A mail being written into the spool: tmp/NAME, then, once complete, fsync'd and renamed into
// new/ (and new/ fsync'd). Destroyed without Commit, the file is removed.
class SpoolWriter {
 public:
  explicit SpoolWriter(std::string spool) : spool_(std::move(spool)) {}
  ~SpoolWriter() { Abort(); }
  SpoolWriter(const SpoolWriter&) = delete;
  SpoolWriter& operator=(const SpoolWriter&) = delete;

  Status Open(const std::string& hostname);
  Status Add(std::string_view text);
  // Durable in new/ once this returns Ok; `id` names the file.
  Status Commit();
  void Abort();
  const std::string& id() const { return name_; }

 private:
  Status Flush();
  std::string spool_;
  std::string name_;
  int fd_ = -1;
  std::string pending_;
};

// Empties tmp/ and makes tmp/, new/, cur/ (mode 0700).
Status PrepareSpool(const std::string& spool);

struct SessionContext {
  const Options& options;
  std::string hostname;
  SSL_CTX* tls = nullptr;  // null: no STARTTLS
  const std::atomic<bool>& stop;
  std::atomic<std::uint64_t>& accepted;
  std::atomic<std::uint64_t>& refused;
  const std::function<void(Event)>& notify;
  // Counts the event and tells the owner.
  void Count(Event e) const {
    ++(e == Event::kAccepted ? accepted : refused);
    if (notify) notify(e);
  }
};

// Talks SMTP with one client until it quits, times out, errs too often or the server stops.
void RunSession(const SessionContext& context, Connection& connection,
                const std::string& client_ip);

}  // namespace dmarc::smtp::internal
