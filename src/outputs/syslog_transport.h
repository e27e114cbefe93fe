// The byte stream (or datagrams) under the syslog output: UDP, TCP, TLS (OpenSSL), with a
// timeout on every step. Internal to the syslog output.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace dmarc::outputs {

enum class SyslogTransport { kUdp, kTcp, kTls };

struct SyslogEndpoint {
  SyslogTransport transport = SyslogTransport::kUdp;
  std::string host;
  int port = 514;
  int timeout_ms = 10000;
  // TLS: the CA file (else the system's store), the name the certificate must be issued for
  // (default: host), an optional client certificate.
  std::string ca_file, server_name, cert_file, key_file;
};

class SyslogConnection {
 public:
  virtual ~SyslogConnection() = default;
  // UDP: one datagram per message. TCP/TLS: the messages, each framed as "LEN SP MSG".
  virtual Status Send(const std::vector<std::string>& messages) = 0;
  // False when the peer closed the connection (then a new one is needed).
  virtual bool Alive() = 0;
};

Result<std::unique_ptr<SyslogConnection>> ConnectSyslog(const SyslogEndpoint& endpoint);

}  // namespace dmarc::outputs
