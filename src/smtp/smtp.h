// The built-in SMTP receiver of `run` ([smtp]): report mail delivered straight to this program,
// as the MX of a reports sub-domain (README "Receiving reports by SMTP").
//
// It only receives: every recipient must be on the allow-list (`accept`), anything else is
// refused with 550, so it is never an open relay. A mail accepted at the end of DATA is first
// written durably into a Maildir spool (tmp/ → fsync → rename into new/ → fsync of new/), and
// only then answered with 250: a sending server never believes a mail delivered that a crash
// could lose. The Maildir source of the fetch loop takes the spool from there (the store
// commits, then the mail is filed), like any [maildir].
//
// ESMTP: SIZE, 8BITMIME, PIPELINING, ENHANCEDSTATUSCODES and, with a certificate, STARTTLS.
// One thread per connection, at most max_connections in all and max_connections_per_client from
// one address; each command line and each whole DATA has a deadline.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"

namespace dmarc::smtp {

struct Options {
  std::string listen = "0.0.0.0:2525";  // HOST:PORT; [v6]:PORT
  std::string hostname;                 // in the banner and Received:; empty: the host's name
  // Recipients accepted: "dmarc@reports.example.com" (that address), "reports.example.com" or
  // "@reports.example.com" (any address of that domain); case-insensitive. Required.
  std::vector<std::string> accept;
  std::string spool;     // the Maildir mails are written to (empty: the app chooses)
  std::string tls_cert;  // PEM chain; with tls_key, STARTTLS is offered
  std::string tls_key;
  std::int64_t max_message_bytes = 10 * 1024 * 1024;
  int max_recipients = 100;
  int max_connections = 256;
  int max_connections_per_client = 20;
  std::int64_t command_timeout = 300;  // seconds for one command line (RFC 5321 §4.5.3.2.7)
  std::int64_t data_timeout = 600;     // seconds for a whole message, from 354 to the final dot
  bool operator==(const Options&) const = default;
};

// What a server counts, for the metrics and the log.
struct Counts {
  std::uint64_t accepted = 0;  // mails spooled and answered 250
  std::uint64_t refused = 0;   // recipients refused, messages too large, connections turned away
};

// Checks an allow-list entry: an address or a domain; the error says what is wrong.
Status CheckAcceptEntry(const std::string& entry);
// True when `address` ("local@domain") is accepted by the list.
bool Accepts(const std::vector<std::string>& accept, const std::string& address);

// What a server tells its owner, from a session's thread.
enum class Event {
  kAccepted,  // a mail spooled durably (answered 250)
  kRefused,   // a recipient, a too large message or a connection over a limit turned away
};

class Server {
 public:
  // Binds the listener, prepares the spool (its tmp/ emptied: nothing there was ever
  // acknowledged) and the TLS context, and starts accepting. SIGPIPE is ignored from then on
  // (TLS writes to a client that left). `notify` (when given) hears of each
  // Event.
  static Result<std::unique_ptr<Server>> Start(const Options& options,
                                               std::function<void(Event)> notify = {});
  virtual ~Server() = default;
  // Closes the listener and every connection (a transaction not yet answered 250 is lost to
  // the client, which retries), and waits for the sessions' threads.
  virtual void Stop() = 0;
  // "127.0.0.1:2525": where it listens.
  virtual std::string Address() const = 0;
  virtual Counts Totals() const = 0;
};

}  // namespace dmarc::smtp
