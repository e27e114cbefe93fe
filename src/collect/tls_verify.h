// Certificate checks for the libetpan sessions. Debian's libetpan uses GnuTLS and checks nothing
// itself, so after the handshake — and before any credential is sent — the chain the server
// presented is verified here with OpenSSL: trusted by ca_file (or the system's store) and issued
// for the host name (or IP address) connected to.
#pragma once

#include <string>

#include "collect/source.h"

struct _mailstream;  // NOLINT(bugprone-reserved-identifier): libetpan's own name

namespace dmarc::collect {

// Describes failures as "TLS certificate of HOST:PORT is not trusted: REASON (...)".
Status VerifyServerCertificate(_mailstream* stream, const std::string& host, int port,
                               const std::string& ca_file, const std::string& key_prefix);

}  // namespace dmarc::collect
