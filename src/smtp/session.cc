// The SMTP protocol (RFC 5321) as a final destination: commands, the transaction, DATA into the
// spool.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <optional>
#include <string_view>
#include <vector>

#include "smtp/internal.h"

namespace dmarc::smtp::internal {

namespace {

constexpr std::size_t kMaxCommandBytes = 2048;        // RFC 5321 §4.5.3.1.4: 512 at least
constexpr std::size_t kMaxDataLineBytes = 64 * 1024;  // §4.5.3.1.6 says 1000; reporters vary
constexpr int kMaxErrors = 10;  // after this many refused commands, the connection is closed

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && Upper(s.substr(0, prefix.size())) == prefix;
}

// What may go into a header line of the client's words: printable ASCII, at most 255 bytes.
std::string Printable(std::string_view s) {
  std::string out(s.substr(0, 255));
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 32 || u >= 127 || c == '(' || c == ')') c = '?';
  }
  return out;
}

std::string Rfc5322Date() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

// "<a@b> SIZE=10" after "FROM:" or "TO:": the address (without <>, a source route dropped) and
// the parameters. False when there is no <...>.
bool ParsePath(std::string_view arg, std::string& address, std::vector<std::string>& params) {
  while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
  if (arg.empty() || arg.front() != '<') return false;
  const std::size_t close = arg.find('>');
  if (close == std::string_view::npos) return false;
  std::string_view path = arg.substr(1, close - 1);
  if (!path.empty() && path.front() == '@') {  // <@relay1,@relay2:user@domain>
    const std::size_t colon = path.find(':');
    if (colon == std::string_view::npos) return false;
    path.remove_prefix(colon + 1);
  }
  address.assign(path);
  params.clear();
  std::string_view rest = arg.substr(close + 1);
  while (!rest.empty()) {
    const std::size_t start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const std::size_t end = std::min(rest.find(' '), rest.size());
    params.emplace_back(rest.substr(0, end));
    rest.remove_prefix(end);
  }
  return std::all_of(address.begin(), address.end(),
                     [](char c) { return static_cast<unsigned char>(c) > 32 && c != 127; });
}

class Session {
 public:
  Session(const SessionContext& c, Connection& conn, std::string ip)
      : c_(c), conn_(conn), ip_(std::move(ip)) {}

  void Run() {
    if (!Reply(fmt::format("220 {} ESMTP dmarc-report", c_.hostname))) return;
    std::string line;
    bool crlf = false;
    while (!c_.stop) {
      const auto deadline = Clock::now() + std::chrono::seconds(c_.options.command_timeout);
      const ReadResult r = conn_.ReadLine(line, crlf, kMaxCommandBytes, deadline);
      if (r == ReadResult::kTimeout) {
        Reply(fmt::format("421 4.4.2 {} timeout waiting for a command, closing", c_.hostname));
        return;
      }
      if (r == ReadResult::kClosed) break;
      const bool go_on =
          r == ReadResult::kTooLong ? Refuse("500 5.5.2 Line too long") : Dispatch(line);
      if (!go_on) return;
    }
    if (c_.stop) Reply(fmt::format("421 4.3.2 {} shutting down", c_.hostname));
  }

 private:
  // Each returns false when the connection is to be closed.
  bool Dispatch(std::string_view line) {
    const std::size_t space = std::min(line.find(' '), line.size());
    const std::string verb = Upper(line.substr(0, space));
    const std::string_view arg = line.substr(std::min(space + 1, line.size()));
    if (verb == "EHLO" || verb == "HELO") return Hello(arg, verb == "EHLO");
    if (verb == "STARTTLS") return StartTls(arg);
    if (verb == "MAIL") return Mail(arg);
    if (verb == "RCPT") return Rcpt(arg);
    if (verb == "DATA") return Data(arg);
    if (verb == "RSET") return ResetTransaction(), Reply("250 2.0.0 Ok");
    if (verb == "NOOP") return Reply("250 2.0.0 Ok");
    if (verb == "QUIT") return Reply(fmt::format("221 2.0.0 {} closing", c_.hostname)), false;
    if (verb == "VRFY") return Reply("252 2.5.0 Cannot VRFY; send the mail");
    if (verb == "HELP") return Reply("214 2.0.0 This server receives DMARC reports (RFC 5321)");
    if (verb == "AUTH" || verb == "BDAT" || verb == "ETRN" || verb == "EXPN") {
      return Refuse("502 5.5.1 Command not implemented");
    }
    return Refuse("500 5.5.2 Command not recognized");
  }

  bool Hello(std::string_view arg, bool extended) {
    if (arg.empty())
      return Refuse("501 5.5.4 Syntax: " + std::string(extended ? "EHLO" : "HELO") + " hostname");
    ResetTransaction();
    helo_ = Printable(arg.substr(0, arg.find(' ')));
    extended_ = extended;
    if (!extended) return Reply(fmt::format("250 {}", c_.hostname));
    std::string reply = fmt::format(
        "250-{} greets {}\r\n250-SIZE {}\r\n250-8BITMIME\r\n"
        "250-PIPELINING\r\n",
        c_.hostname, helo_, c_.options.max_message_bytes);
    if (c_.tls && !conn_.tls()) reply += "250-STARTTLS\r\n";
    return Reply(reply + "250 ENHANCEDSTATUSCODES");
  }

  bool StartTls(std::string_view arg) {
    if (!c_.tls) return Refuse("502 5.5.1 STARTTLS not offered");
    if (conn_.tls()) return Refuse("503 5.5.1 TLS already active");
    if (!arg.empty()) return Refuse("501 5.5.4 Syntax: STARTTLS");
    if (!Reply("220 2.0.0 Ready to start TLS")) return false;
    // Whatever the client sent after STARTTLS in the clear is dropped: commands injected before
    // the handshake must not be taken as sent over TLS (CVE-2011-0411).
    conn_.DropBuffered();
    const auto deadline = Clock::now() + std::chrono::seconds(c_.options.command_timeout);
    if (Status s = conn_.StartTls(c_.tls, deadline); !s) {
      spdlog::default_logger()->info("smtp: {}: {}", ip_, s.error());
      return false;
    }
    ResetTransaction();
    helo_.clear();  // RFC 3207 §4.2: the client starts again with EHLO
    return true;
  }

  bool Mail(std::string_view arg) {
    if (helo_.empty()) return Refuse("503 5.5.1 Send EHLO first");
    if (in_mail_) return Refuse("503 5.5.1 Nested MAIL command");
    std::string sender;
    std::vector<std::string> params;
    if (!StartsWithNoCase(arg, "FROM:") || !ParsePath(arg.substr(5), sender, params)) {
      return Refuse("501 5.5.4 Syntax: MAIL FROM:<address>");
    }
    for (const auto& p : params) {
      if (auto refused = CheckMailParameter(p)) return Refuse(*refused);
    }
    in_mail_ = true;
    sender_ = sender;
    return Reply("250 2.1.0 Ok");
  }

  // The reply refusing a MAIL parameter, or nothing when it is fine: SIZE= within the limit
  // (RFC 1870), BODY=7BIT or 8BITMIME (RFC 6152).
  std::optional<std::string> CheckMailParameter(const std::string& p) const {
    const std::size_t eq = p.find('=');
    const std::string key = Upper(p.substr(0, eq));
    const std::string value = eq == std::string::npos ? "" : Upper(p.substr(eq + 1));
    if (key == "BODY" && (value == "7BIT" || value == "8BITMIME")) return std::nullopt;
    if (key != "SIZE") return "555 5.5.4 Unsupported parameter " + Printable(p);
    if (value.empty() || value.size() > 18 ||
        value.find_first_not_of("0123456789") != std::string::npos) {
      return "501 5.5.4 Bad SIZE";
    }
    if (std::stoll(value) <= c_.options.max_message_bytes) return std::nullopt;
    c_.Count(Event::kRefused);
    return fmt::format("552 5.3.4 Message size exceeds the limit of {} bytes",
                       c_.options.max_message_bytes);
  }

  bool Rcpt(std::string_view arg) {
    if (!in_mail_) return Refuse("503 5.5.1 Need MAIL before RCPT");
    std::string to;
    std::vector<std::string> params;
    if (!StartsWithNoCase(arg, "TO:") || !ParsePath(arg.substr(3), to, params)) {
      return Refuse("501 5.5.4 Syntax: RCPT TO:<address>");
    }
    if (!params.empty()) return Refuse("555 5.5.4 Unsupported parameter " + Printable(params[0]));
    if (static_cast<int>(recipients_.size()) >= c_.options.max_recipients) {
      c_.Count(Event::kRefused);
      return Reply("452 4.5.3 Too many recipients");
    }
    if (!Accepts(c_.options.accept, to)) {
      c_.Count(Event::kRefused);
      spdlog::default_logger()->info("smtp: {}: recipient <{}> refused (not in smtp.accept)", ip_,
                                     Printable(to));
      return Refuse("550 5.7.1 Recipient not accepted here (no relaying)");
    }
    recipients_.push_back(to);
    return Reply("250 2.1.5 Ok");
  }

  std::string ReceivedHeader(const std::string& id) const {
    const std::string with = extended_ ? (conn_.tls() ? "ESMTPS" : "ESMTP") : "SMTP";
    const std::string for_clause =
        recipients_.size() == 1 ? fmt::format("\r\n\tfor <{}>", Printable(recipients_[0])) : "";
    return fmt::format(
        "Return-Path: <{}>\r\nReceived: from {} ([{}])\r\n\tby {} (dmarc-report) "
        "with {} id {}{};\r\n\t{}\r\n",
        Printable(sender_), helo_, ip_, c_.hostname, with, id, for_clause, Rfc5322Date());
  }

  struct Received {
    std::int64_t bytes = 0;
    bool too_long_line = false;
    Status written = Ok();
  };

  // Reads the message up to its final dot into the writer. False when the connection is to be
  // closed (a timeout, the client gone, far too much data).
  bool ReadMessage(SpoolWriter& writer, Received& got) {
    const auto deadline = Clock::now() + std::chrono::seconds(c_.options.data_timeout);
    const std::int64_t max = c_.options.max_message_bytes;
    std::string line;
    bool crlf = false, previous_crlf = true;
    for (;;) {
      const ReadResult r = conn_.ReadLine(line, crlf, kMaxDataLineBytes, deadline);
      if (r == ReadResult::kTimeout) {
        Reply(fmt::format("421 4.4.2 {} timeout waiting for data, closing", c_.hostname));
        return false;
      }
      if (r == ReadResult::kClosed) return false;
      if (r == ReadResult::kTooLong) got.too_long_line = true;
      // The end is CR LF . CR LF only (a bare LF around the dot does not end it).
      if (line == "." && crlf && previous_crlf) return true;
      previous_crlf = crlf;
      std::string_view text = line;
      if (!text.empty() && text.front() == '.') text.remove_prefix(1);
      got.bytes += static_cast<std::int64_t>(text.size()) + 2;
      if (got.bytes > 2 * max + static_cast<std::int64_t>(kMaxDataLineBytes)) {
        Reply("552 5.3.4 Message too big, closing");
        return false;
      }
      if (got.bytes <= max && got.written) {
        got.written = writer.Add(text);
        if (got.written) got.written = writer.Add("\r\n");
      }
    }
  }

  bool Data(std::string_view arg) {
    if (!arg.empty()) return Refuse("501 5.5.4 Syntax: DATA");
    if (!in_mail_ || recipients_.empty()) return Refuse("503 5.5.1 Need RCPT before DATA");
    SpoolWriter writer(c_.options.spool);
    Received got;
    got.written = writer.Open(c_.hostname);
    if (got.written) got.written = writer.Add(ReceivedHeader(writer.id()));
    if (!Reply("354 End data with <CR><LF>.<CR><LF>")) return false;
    if (!ReadMessage(writer, got)) return writer.Abort(), false;
    const std::string id = writer.id();
    const bool go_on = Deliver(writer, got, id);
    ResetTransaction();
    return go_on;
  }

  bool Deliver(SpoolWriter& writer, const Received& got, const std::string& id) {
    if (got.bytes > c_.options.max_message_bytes || got.too_long_line) writer.Abort();
    if (got.bytes > c_.options.max_message_bytes) {
      c_.Count(Event::kRefused);
      return Reply(fmt::format("552 5.3.4 Message size exceeds the limit of {} bytes",
                               c_.options.max_message_bytes));
    }
    if (got.too_long_line) {
      c_.Count(Event::kRefused);
      return Reply("500 5.5.2 Line too long");
    }
    Status done = got.written ? writer.Commit() : got.written;
    if (!done) {
      spdlog::default_logger()->error("smtp: {}: cannot spool a mail: {}", ip_, done.error());
      return Reply("451 4.3.0 Cannot store the mail now; try again later");
    }
    c_.Count(Event::kAccepted);
    spdlog::default_logger()->info("smtp: {}: mail from <{}> accepted as {} ({} bytes)", ip_,
                                   Printable(sender_), id, got.bytes);
    return Reply(fmt::format("250 2.0.0 Ok: queued as {}", id));
  }

  void ResetTransaction() {
    in_mail_ = false;
    sender_.clear();
    recipients_.clear();
  }

  bool Reply(std::string_view text) { return conn_.Write(std::string(text) + "\r\n"); }

  // A refused command: after kMaxErrors of them the connection is closed.
  bool Refuse(std::string_view text) {
    if (++errors_ >= kMaxErrors) {
      Reply(std::string(text));
      Reply(fmt::format("421 4.7.0 {} too many errors, closing", c_.hostname));
      return false;
    }
    return Reply(text);
  }

  const SessionContext& c_;
  Connection& conn_;
  std::string ip_;
  std::string helo_;
  bool extended_ = false;
  bool in_mail_ = false;
  std::string sender_;
  std::vector<std::string> recipients_;
  int errors_ = 0;
};

}  // namespace

void RunSession(const SessionContext& context, Connection& connection,
                const std::string& client_ip) {
  Session(context, connection, client_ip).Run();
}

}  // namespace dmarc::smtp::internal
