// The POP3 source (libetpan). POP3 has no folders: a mail with a report is deleted once its
// reports are committed (after = "delete") or kept (after = "keep"); a mail without one is always
// kept. Kept mails are remembered by UIDL in a state file, so they are read once.
//
// Deletions take effect when the session ends (QUIT, at the end of the run or before the next
// poll): a crash before that leaves every mail on the server, to be read again (the store counts
// duplicates), and loses none.
#include <fmt/format.h>
#include <libetpan/libetpan.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "collect/etpan_owned.h"
#include "collect/source.h"
#include "collect/tls_verify.h"

namespace dmarc::collect {

namespace {

using SessionPtr = Owned<mailpop3, mailpop3_free>;
using RetrPtr = Owned<char, mailpop3_retr_free>;

void SetServerName(struct mailstream_ssl_context* ctx, void* data) {
  mailstream_ssl_set_server_name(ctx, static_cast<char*>(data));
}

class Pop3Source : public Source {
 public:
  Pop3Source(const Pop3Options& c, const std::string& state_dir, std::size_t max_mail_bytes)
      : c_(c), max_mail_bytes_(max_mail_bytes) {
    state_file_ =
        c.state_file.empty()
            ? (std::filesystem::path(state_dir) / fmt::format("pop3-{}@{}.uidl", c.user, c.host))
                  .string()
            : c.state_file;
  }
  ~Pop3Source() override { Close(); }

  std::string Describe() const override {
    return fmt::format("pop3://{}@{}:{}", c_.user, c_.host, c_.port);
  }

  Result<std::size_t> Open() override {
    Status s = LoadState();
    if (!s) return MakeError(s.error());
    read_this_run_.clear();
    auto n = Session();
    if (!n) return n;
    return pending_.size();
  }

  Result<std::vector<MailItem>> Next() override {
    if (!pop3_) return MakeError(fmt::format("{}: not connected", Describe()));
    std::vector<MailItem> batch;
    std::size_t held = 0;
    while (!pending_.empty() && batch.size() < static_cast<std::size_t>(c_.batch_size) &&
           held < kMaxBatchMailBytes) {
      const Pending p = pending_.front();
      pending_.pop_front();
      MailItem item{p.uidl, fmt::format("{};UIDL={}", Describe(), p.uidl), {}, std::nullopt};
      if (p.size > max_mail_bytes_) {
        item.error = fmt::format("mail of {} bytes is larger than the limit of {} bytes", p.size,
                                 max_mail_bytes_);
      } else {
        char* raw = nullptr;
        std::size_t len = 0;
        const int r = mailpop3_retr(pop3_.get(), p.index, &raw, &len);
        RetrPtr data(raw);
        if (r != MAILPOP3_NO_ERROR) return Failed("reading a message", r);
        item.bytes.assign(data.get(), len);
        held += len;
      }
      index_[p.uidl] = p.index;
      batch.push_back(std::move(item));
    }
    return batch;
  }

  Status File(const std::vector<Filing>& filings) override {
    for (const auto& f : filings) {
      read_this_run_.insert(f.id);
      if (c_.after == After::kDelete && f.mail_class != MailClass::kInvalid) {
        const int r = mailpop3_dele(pop3_.get(), index_[f.id]);
        if (r != MAILPOP3_NO_ERROR) return Failed("deleting a message", r);
      } else {
        kept_.insert(f.id);
      }
    }
    return SaveState();
  }

  void Close() override {
    if (!pop3_) return;
    if (!broken_) mailpop3_quit(pop3_.get());
    pop3_.reset();
    broken_ = false;
  }

 private:
  struct Pending {
    unsigned index;
    std::uint32_t size;
    std::string uidl;
  };

  std::string Where() const { return fmt::format("{}:{}", c_.host, c_.port); }

  Error Failed(const std::string& what, int code) {
    if (code == MAILPOP3_ERROR_STREAM) broken_ = true;
    const std::string said = pop3_ && pop3_->pop3_response
                                 ? fmt::format(": server said \"{}\"", pop3_->pop3_response)
                                 : "";
    return MakeError(fmt::format("{}: {} failed (error {}{})", Describe(), what, code, said));
  }

  // Connects, logs in and lists the messages not yet read.
  Result<std::size_t> Session() {
    Close();
    pop3_.reset(mailpop3_new(0, nullptr));
    mailpop3* pop3 = pop3_.get();
    mailpop3_set_timeout(pop3, c_.timeout);
    host_buf_ = c_.host;
    const auto port = static_cast<std::uint16_t>(c_.port);
    int r = c_.tls == TlsMode::kTls
                ? mailpop3_ssl_connect_with_callback(pop3, c_.host.c_str(), port, SetServerName,
                                                     host_buf_.data())
                : mailpop3_socket_connect(pop3, c_.host.c_str(), port);
    if (r != MAILPOP3_NO_ERROR) {
      broken_ = true;
      Close();
      if (r == MAILPOP3_ERROR_SSL) {
        return MakeError(fmt::format(
            "{}: TLS handshake failed (with tls = \"tls\" the port must speak TLS at once, "
            "usually 995; for port 110 use tls = \"starttls\")",
            Where()));
      }
      return MakeError(fmt::format(
          "{}: cannot connect (server unreachable or connection refused; check pop3.host and "
          "pop3.port, and that the server accepts connections from here)",
          Where()));
    }
    if (c_.tls == TlsMode::kStartTls) {
      r = mailpop3_socket_starttls_with_callback(pop3, SetServerName, host_buf_.data());
      if (r != MAILPOP3_NO_ERROR) {
        broken_ = true;
        Close();
        return MakeError(
            fmt::format("{}: STLS failed (error {}; does the server offer STARTTLS on this port?)",
                        Where(), r));
      }
    }
    if (c_.tls != TlsMode::kNone && c_.verify_tls) {
      Status v = VerifyServerCertificate(pop3->pop3_stream, c_.host, c_.port, c_.ca_file, "pop3");
      if (!v) {
        Close();
        return MakeError(v.error());
      }
    }
    r = mailpop3_user(pop3, c_.user.c_str());
    if (r == MAILPOP3_NO_ERROR) r = mailpop3_pass(pop3, c_.password.c_str());
    if (r != MAILPOP3_NO_ERROR) {
      const std::string said =
          pop3->pop3_response ? fmt::format(": server said \"{}\"", pop3->pop3_response) : "";
      Close();
      return MakeError(
          fmt::format("{}: login as \"{}\" refused{} (check pop3.user and pop3.password)", Where(),
                      c_.user, said));
    }
    carray* list = nullptr;  // the session's own table, freed with it
    r = mailpop3_list(pop3, &list);
    if (r != MAILPOP3_NO_ERROR) return Failed("listing the messages", r);
    pending_.clear();
    index_.clear();
    for (unsigned i = 0; i < carray_count(list); ++i) {
      auto* info = static_cast<mailpop3_msg_info*>(carray_get(list, i));
      if (!info || info->msg_deleted) continue;
      if (!info->msg_uidl) {
        return MakeError(
            fmt::format("{}: the server gives no UIDL, so mails cannot be recognised between runs",
                        Describe()));
      }
      const std::string uidl = info->msg_uidl;
      if (kept_.count(uidl) || read_this_run_.count(uidl)) continue;
      pending_.push_back({info->msg_index, info->msg_size, uidl});
    }
    return pending_.size();
  }

  Status LoadState() {
    kept_.clear();
    std::ifstream in(state_file_);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) kept_.insert(line);
    }
    return Ok();
  }

  // Written whole to a temporary file and renamed over the old one: a crash leaves either.
  Status SaveState() {
    const std::string tmp = state_file_ + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      for (const auto& u : kept_) out << u << '\n';
      out.flush();
      if (!out) {
        return MakeError(fmt::format("{}: cannot write the UIDL record (pop3.state_file): {}", tmp,
                                     std::strerror(errno)));
      }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, state_file_, ec);
    if (ec) {
      return MakeError(fmt::format("{}: cannot write the UIDL record (pop3.state_file): {}",
                                   state_file_, ec.message()));
    }
    return Ok();
  }

  Pop3Options c_;
  std::size_t max_mail_bytes_;
  std::string state_file_;
  SessionPtr pop3_;
  bool broken_ = false;
  std::string host_buf_;
  std::deque<Pending> pending_;
  std::map<std::string, unsigned> index_;  // UIDL → message number of this session
  std::set<std::string> kept_;             // UIDLs kept on the server and already read
  std::set<std::string> read_this_run_;
};

}  // namespace

std::unique_ptr<Source> MakePop3Source(const Pop3Options& config,
                                       const std::string& default_state_dir,
                                       std::size_t max_mail_bytes) {
  return std::make_unique<Pop3Source>(config, default_state_dir, max_mail_bytes);
}

}  // namespace dmarc::collect
