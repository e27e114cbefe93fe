// A spdlog sink sending RFC 5424 messages to a remote syslog server over UDP, or over TCP with
// octet-counting framing (RFC 6587). spdlog's own udp/tcp sinks are not used: its TCP client
// connects without a timeout and retries on every line, which would stall the service while
// the log server is down. Here a failed connection is retried after a growing pause (1 s up to
// 60 s) and lines are dropped meanwhile (counted in dropped()).
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <chrono>
#include <mutex>
#include <string>

#include "log/log.h"

namespace dmarc::log {

class RemoteSyslogSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  RemoteSyslogSink(SyslogTransport transport, std::string host, int port, int facility,
                   std::string app_name);
  ~RemoteSyslogSink() override;
  RemoteSyslogSink(const RemoteSyslogSink&) = delete;
  RemoteSyslogSink& operator=(const RemoteSyslogSink&) = delete;

  std::size_t dropped() const { return dropped_; }

  // The RFC 5424 message for one line (without framing); public for tests.
  std::string Format(const spdlog::details::log_msg& msg) const;

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  bool Connect();
  void Close();

  SyslogTransport transport_;
  std::string host_;
  int port_;
  int facility_;
  std::string app_name_;
  std::string hostname_;
  int fd_ = -1;
  std::chrono::steady_clock::time_point retry_at_{};
  std::chrono::seconds pause_{0};
  std::size_t dropped_ = 0;
};

}  // namespace dmarc::log
