// Logging of the long-running commands: spdlog with sinks chosen by the [log] table of the
// configuration (stderr, a file, a remote syslog server over UDP or TCP), and a guard that keeps
// every secret of the configuration out of every line.
//
// Lines are "2026-11-25T15:20:34Z info message" on stderr and in the file; the syslog server gets
// RFC 5424 messages (TCP with octet-counting framing, RFC 6587), APP-NAME "dmarc-report".
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
namespace dmarc::log {

enum class SyslogTransport { kUdp, kTcp };

// Where log lines go (the [log] table of the configuration).
struct Options {
  std::string level = "info";  // debug, info, warning, error, critical
  bool to_stderr = true;       // key `stderr`
  std::string file;            // appended to; empty: none
  std::string syslog;          // "udp://host:port", "tcp://host:port" or "host" (UDP, 514)
  std::string syslog_facility = "daemon";
  // Parsed from `syslog` by the configuration's loader; an empty host: no syslog.
  SyslogTransport syslog_transport = SyslogTransport::kUdp;
  std::string syslog_host;
  int syslog_port = 514;
};

// Every occurrence of a secret as a whole value (not inside a longer word; longest first) replaced
// by "[redacted]"; empty secrets ignored.
std::string Redact(std::string_view text, const std::vector<std::string>& secrets);

// The forms a login's password takes on the wire besides itself, each to be redacted as well, so
// that a server that echoes a command (or a trace of the exchange) does not show it: inside an
// IMAP quoted string (a password with " or \ is sent escaped), base64 (AUTH LOGIN), and the
// base64 of SASL PLAIN's "\0user\0password" and "user\0user\0password". A form equal to the
// password is left out; each is a whole token as sent, never a part of one.
std::vector<std::string> EncodedSecretForms(std::string_view password, std::string_view user);

// A logger with the configured sinks behind the redaction guard. Fails when the file cannot be
// opened; a syslog server that is down is not an error (lines are dropped until it is back).
Result<std::shared_ptr<spdlog::logger>> MakeLogger(const std::string& name, const Options& config,
                                                   const std::vector<std::string>& secrets);

// MakeLogger, installed as spdlog's default logger (what spdlog::info() ... write to).
Result<bool> Setup(const Options& config, const std::vector<std::string>& secrets);

// RFC 5424 PRI value parts.
int Facility(const std::string& name);  // "daemon" → 3; unknown names → 1 (user)
int Severity(spdlog::level::level_enum level);

}  // namespace dmarc::log
