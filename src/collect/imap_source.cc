// The IMAP source (libetpan): one session, batches of BODY.PEEK[] in one UID FETCH each, and
// filing with UID MOVE, or UID COPY + \Deleted + UID EXPUNGE where MOVE is not offered.
#include <fmt/format.h>
#include <libetpan/libetpan.h>
#include <openssl/evp.h>
#include <sys/select.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>
#include <set>

#include "collect/etpan_owned.h"
#include "collect/oauth_token.h"
#include "collect/source.h"
#include "collect/tls_verify.h"

namespace dmarc::collect {

namespace {

using SetPtr = Owned<mailimap_set, mailimap_set_free>;
using FetchTypePtr = Owned<mailimap_fetch_type, mailimap_fetch_type_free>;
using FetchListPtr = Owned<clist, mailimap_fetch_list_free>;    // of mailimap_msg_att
using ListResultPtr = Owned<clist, mailimap_list_result_free>;  // of mailimap_mailbox_list
using CapabilityPtr = Owned<mailimap_capability_data, mailimap_capability_data_free>;
using StoreFlagsPtr = Owned<mailimap_store_att_flags, mailimap_store_att_flags_free>;
using SessionPtr = Owned<mailimap, mailimap_free>;

// One UID FETCH of these attributes; the result list is null when the command failed.
int UidFetch(mailimap* imap, mailimap_set* set, FetchTypePtr type, FetchListPtr& result) {
  clist* raw = nullptr;
  const int r = mailimap_uid_fetch(imap, set, type.get(), &raw);
  result.reset(raw);
  return r;
}

// LIST reference "" and this pattern; the result list is null when the command failed.
int List(mailimap* imap, const char* pattern, ListResultPtr& result) {
  clist* raw = nullptr;
  const int r = mailimap_list(imap, "", pattern, &raw);
  result.reset(raw);
  return r;
}

SetPtr MakeSet(const std::vector<std::uint32_t>& uids) {
  SetPtr set(mailimap_set_new_empty());
  // Consecutive UIDs become ranges, so a batch is one short command.
  for (std::size_t i = 0; i < uids.size();) {
    std::size_t j = i;
    while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) ++j;
    mailimap_set_add_interval(set.get(), uids[i], uids[j]);
    i = j + 1;
  }
  return set;
}

std::string Base64(const std::string& data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

void SetServerName(struct mailstream_ssl_context* ctx, void* data) {
  mailstream_ssl_set_server_name(ctx, static_cast<char*>(data));
}

class ImapSource : public Source {
 public:
  ImapSource(const ImapOptions& c, std::size_t max_mail_bytes)
      : c_(c), max_mail_bytes_(max_mail_bytes) {}
  ~ImapSource() override { Close(); }

  std::string Describe() const override {
    return fmt::format("imap://{}@{}:{}/{}", c_.user, c_.host, c_.port, c_.folder);
  }

  Result<std::size_t> Open() override {
    if (!imap_) {
      Status s = Connect();
      if (!s && oauth_refused_) {
        // The token may have expired since the source handed it out: one more connection with
        // a fresh token, when the source gives another one.
        Close();
        const std::string refused = std::move(token_);
        token_.clear();
        auto fresh = tokens_.Get(/*refused=*/true);
        if (fresh && *fresh != refused) {
          token_ = std::move(fresh).value();
          s = Connect();
        }
      }
      token_.clear();
      if (!s) {
        Close();
        return MakeError(s.error());
      }
    } else {
      // An open session: NOOP makes the server look for mail that arrived since.
      const int r = mailimap_noop(imap_.get());
      if (r != MAILIMAP_NO_ERROR) return Failed("checking for new mail", r);
    }
    // Every message in the folder, with its size, in one command.
    uids_.clear();
    sizes_.clear();
    next_ = 0;
    FetchTypePtr ft(mailimap_fetch_type_new_fetch_att_list_empty());
    mailimap_fetch_type_new_fetch_att_list_add(ft.get(), mailimap_fetch_att_new_uid());
    mailimap_fetch_type_new_fetch_att_list_add(ft.get(), mailimap_fetch_att_new_rfc822_size());
    SetPtr all(mailimap_set_new_interval(std::max<std::uint32_t>(1, kept_above_ + 1), 0));
    FetchListPtr result;
    const int r = UidFetch(imap_.get(), all.get(), std::move(ft), result);
    if (r != MAILIMAP_NO_ERROR) return Failed("listing the messages", r);
    for (clistiter* it = clist_begin(result.get()); it; it = clist_next(it)) {
      auto* msg = static_cast<mailimap_msg_att*>(clist_content(it));
      std::uint32_t uid = 0, size = 0;
      ReadAttributes(msg, uid, size, nullptr);
      // "n:*" always returns the last message, even below n.
      if (uid > kept_above_) {
        uids_.push_back(uid);
        sizes_[uid] = size;
      }
    }
    std::sort(uids_.begin(), uids_.end());
    return uids_.size();
  }

  Result<std::vector<MailItem>> Next() override {
    std::vector<MailItem> batch;
    std::vector<std::uint32_t> wanted;
    std::size_t held = 0;
    while (next_ < uids_.size() &&
           batch.size() + wanted.size() < static_cast<std::size_t>(c_.batch_size) &&
           held < kMaxBatchMailBytes) {
      const std::uint32_t uid = uids_[next_++];
      if (sizes_[uid] > max_mail_bytes_) {
        // Too large to read: filed as Invalid with the reason, never fetched.
        batch.push_back({std::to_string(uid),
                         Label(uid),
                         {},
                         fmt::format("mail of {} bytes is larger than the limit of {} bytes",
                                     sizes_[uid], max_mail_bytes_)});
      } else {
        wanted.push_back(uid);
        held += sizes_[uid];
      }
    }
    if (wanted.empty()) return batch;
    FetchTypePtr ft(mailimap_fetch_type_new_fetch_att_list_empty());
    mailimap_fetch_type_new_fetch_att_list_add(ft.get(), mailimap_fetch_att_new_uid());
    mailimap_fetch_type_new_fetch_att_list_add(
        ft.get(), mailimap_fetch_att_new_body_peek_section(mailimap_section_new(nullptr)));
    SetPtr set = MakeSet(wanted);
    FetchListPtr result;
    const int r = UidFetch(imap_.get(), set.get(), std::move(ft), result);
    if (r != MAILIMAP_NO_ERROR) return Failed("fetching messages", r);
    for (clistiter* it = clist_begin(result.get()); it; it = clist_next(it)) {
      auto* msg = static_cast<mailimap_msg_att*>(clist_content(it));
      std::uint32_t uid = 0, size = 0;
      std::string body;
      if (!ReadAttributes(msg, uid, size, &body) || uid == 0) continue;
      batch.push_back({std::to_string(uid), Label(uid), std::move(body), std::nullopt});
    }
    // Messages expunged by someone else meanwhile are simply not returned.
    return batch;
  }

  Status File(const std::vector<Filing>& filings) override {
    std::map<std::string, std::vector<std::uint32_t>> to_folder;
    std::vector<std::uint32_t> to_delete;
    const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
    for (const auto& f : filings) {
      const auto uid = static_cast<std::uint32_t>(std::stoul(f.id));
      kept_above_ = c_.after == After::kKeep ? std::max(kept_above_, uid) : kept_above_;
      if (c_.after == After::kKeep) continue;
      // A mail that holds no report is never deleted: a person should look at it.
      if (f.mail_class == MailClass::kInvalid || c_.after == After::kArchive) {
        to_folder[Folder(c_.archive_folder + "/" + FolderName(f.mail_class))].push_back(uid);
      } else if (c_.after == After::kMove) {
        to_folder[Folder(ExpandFolderTemplate(c_.move_to, now))].push_back(uid);
      } else {
        to_delete.push_back(uid);
      }
    }
    for (auto& [folder, uids] : to_folder) {
      Status s = EnsureFolder(folder);
      if (!s) return s;
      s = Move(uids, folder);
      if (!s) return s;
    }
    if (!to_delete.empty()) return Delete(to_delete);
    return Ok();
  }

  Status Wait(std::int64_t seconds, const std::atomic<bool>& stop) override {
    if (!imap_ || !c_.idle || !mailimap_has_idle(imap_.get())) return Source::Wait(seconds, stop);
    // RFC 2177: re-issue IDLE at least every 29 minutes.
    seconds = std::min<std::int64_t>(seconds, 25 * 60);
    int r = mailimap_idle(imap_.get());
    if (r != MAILIMAP_NO_ERROR) return Failed("starting IDLE", r);
    const int fd = mailimap_idle_get_fd(imap_.get());
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (!stop && std::chrono::steady_clock::now() < until) {
      fd_set fds;
      FD_ZERO(&fds);
      FD_SET(fd, &fds);
      timeval tv{0, 500'000};
      const int n = select(fd + 1, &fds, nullptr, nullptr, &tv);
      if (n > 0) break;  // the server said something: new mail, or it is going away
      if (n < 0 && errno != EINTR) break;
    }
    r = mailimap_idle_done(imap_.get());
    if (r != MAILIMAP_NO_ERROR) return Failed("ending IDLE", r);
    return Ok();
  }

  void Close() override {
    if (!imap_) return;
    if (!broken_) mailimap_logout(imap_.get());
    imap_.reset();
    broken_ = false;
    oauth_refused_ = false;
    known_folders_.clear();
  }

 private:
  std::string Where() const { return fmt::format("{}:{}", c_.host, c_.port); }

  std::string Label(std::uint32_t uid) const {
    return fmt::format("imap://{}@{}:{}/{};UID={}", c_.user, c_.host, c_.port, c_.folder, uid);
  }

  std::string ServerSaid() const {
    return imap_ && imap_->imap_response ? fmt::format(": server said \"{}\"", imap_->imap_response)
                                         : std::string();
  }

  Error Failed(const std::string& what, int code) {
    std::string reason;
    switch (code) {
      case MAILIMAP_ERROR_STREAM:
        reason = "the connection was lost or timed out";
        broken_ = true;
        break;
      case MAILIMAP_ERROR_PARSE:
        reason = "the server's answer could not be read";
        broken_ = true;
        break;
      default:
        reason = fmt::format("error {}{}", code, ServerSaid());
    }
    return MakeError(fmt::format("{}: {} failed: {}", Describe(), what, reason));
  }

  static bool ReadAttributes(mailimap_msg_att* msg, std::uint32_t& uid, std::uint32_t& size,
                             std::string* body) {
    for (clistiter* it = clist_begin(msg->att_list); it; it = clist_next(it)) {
      auto* item = static_cast<mailimap_msg_att_item*>(clist_content(it));
      if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC) continue;
      mailimap_msg_att_static* s = item->att_data.att_static;
      if (s->att_type == MAILIMAP_MSG_ATT_UID) uid = s->att_data.att_uid;
      if (s->att_type == MAILIMAP_MSG_ATT_RFC822_SIZE) size = s->att_data.att_rfc822_size;
      if (s->att_type == MAILIMAP_MSG_ATT_BODY_SECTION && body) {
        mailimap_msg_att_body_section* b = s->att_data.att_body_section;
        if (b->sec_body_part) body->assign(b->sec_body_part, b->sec_length);
      }
    }
    return true;
  }

  Status Connect() {
    imap_.reset(mailimap_new(0, nullptr));
    mailimap* imap = imap_.get();
    mailimap_set_timeout(imap, c_.timeout);
    host_buf_ = c_.host;
    const auto port = static_cast<std::uint16_t>(c_.port);
    int r;
    if (c_.tls == TlsMode::kTls) {
      r = mailimap_ssl_connect_with_callback(imap, c_.host.c_str(), port, SetServerName,
                                             host_buf_.data());
    } else {
      r = mailimap_socket_connect(imap, c_.host.c_str(), port);
    }
    if (r != MAILIMAP_NO_ERROR_AUTHENTICATED && r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED) {
      broken_ = true;
      if (r == MAILIMAP_ERROR_SSL) {
        return MakeError(fmt::format(
            "{}: TLS handshake failed (with tls = \"tls\" the port must speak TLS at once, "
            "usually 993; for port 143 use tls = \"starttls\")",
            Where()));
      }
      if (r == MAILIMAP_ERROR_CONNECTION_REFUSED) {
        return MakeError(fmt::format(
            "{}: cannot connect (server unreachable or connection refused; check imap.host and "
            "imap.port, and that the server accepts connections from here)",
            Where()));
      }
      return MakeError(
          fmt::format("{}: no IMAP greeting (error {}; check imap.port and imap.tls)", Where(), r));
    }
    if (c_.tls == TlsMode::kStartTls) {
      r = mailimap_socket_starttls_with_callback(imap, SetServerName, host_buf_.data());
      if (r != MAILIMAP_NO_ERROR) {
        broken_ = true;
        return MakeError(fmt::format(
            "{}: STARTTLS failed (error {}{}; does the server offer STARTTLS on this port?)",
            Where(), r, ServerSaid()));
      }
    }
    if (c_.tls != TlsMode::kNone && c_.verify_tls) {
      Status v = VerifyServerCertificate(imap->imap_stream, c_.host, c_.port, c_.ca_file, "imap");
      if (!v) return v;
    }
    capability();
    if (IsOAuth2(c_.auth)) {
      Status s = OAuth2Login();
      if (!s) return s;
    } else if (c_.auth == "plain") {
      r = mailimap_authenticate(imap, "PLAIN", c_.host.c_str(), nullptr, nullptr, c_.user.c_str(),
                                c_.user.c_str(), c_.password.c_str(), nullptr);
    } else {
      r = mailimap_login(imap, c_.user.c_str(), c_.password.c_str());
    }
    if (!IsOAuth2(c_.auth) && r != MAILIMAP_NO_ERROR) {
      if (r == MAILIMAP_ERROR_STREAM) broken_ = true;
      return MakeError(fmt::format(
          "{}: login as \"{}\" refused{} (check imap.user and imap.password{})", Where(), c_.user,
          ServerSaid(), c_.auth == "plain" ? ", or try auth = \"login\"" : ""));
    }
    capability();
    has_move_ = mailimap_has_extension(imap, const_cast<char*>("MOVE")) == 1;
    has_uidplus_ = mailimap_has_uidplus(imap) == 1;
    // The hierarchy delimiter, for Archive/Aggregate.
    ListResultPtr list;
    if (List(imap, "", list) == MAILIMAP_NO_ERROR && list && clist_begin(list.get())) {
      auto* mb = static_cast<mailimap_mailbox_list*>(clist_content(clist_begin(list.get())));
      if (mb->mb_delimiter) delimiter_ = mb->mb_delimiter;
    }
    r = mailimap_select(imap, c_.folder.c_str());
    if (r != MAILIMAP_NO_ERROR) {
      if (r == MAILIMAP_ERROR_STREAM) broken_ = true;
      return MakeError(fmt::format(
          "{}: cannot open folder \"{}\"{} (check imap.folder; the folders there are: {})", Where(),
          c_.folder, ServerSaid(), FolderList()));
    }
    return Ok();
  }

  // AUTHENTICATE XOAUTH2 or OAUTHBEARER with the token source's token.
  Status OAuth2Login() {
    const bool bearer = c_.auth == "oauthbearer";
    const char* mechanism = bearer ? "OAUTHBEARER" : "XOAUTH2";
    if (mailimap_has_authentication(imap_.get(), mechanism) != 1) {
      return MakeError(fmt::format(
          "{}: the server does not offer AUTHENTICATE {} (no AUTH={} in its capabilities; check "
          "imap.host and imap.auth)",
          Where(), mechanism, mechanism));
    }
    if (token_.empty()) {
      auto t = tokens_.Get(/*refused=*/false);
      if (!t) return MakeError(fmt::format("{}: {}", Where(), t.error()));
      token_ = std::move(t).value();
    }
    std::string said;
    const int r = Authenticate(mechanism,
                               bearer ? OAuthBearerResponse(c_.user, c_.host, c_.port, token_)
                                      : XOAuth2Response(c_.user, token_),
                               said);
    if (r == MAILIMAP_NO_ERROR) return Ok();
    if (r == MAILIMAP_ERROR_LOGIN) {
      oauth_refused_ = true;
      return MakeError(fmt::format(
          "{}: login as \"{}\" with an OAuth2 token refused{} (the token may be expired or lack "
          "the IMAP scope; auth = \"{}\")",
          Where(), c_.user, said.empty() ? "" : fmt::format(": server said \"{}\"", said),
          c_.auth));
    }
    broken_ = true;
    return MakeError(fmt::format("{}: AUTHENTICATE {} failed: {}", Where(), mechanism,
                                 r == MAILIMAP_ERROR_STREAM
                                     ? "the connection was lost or timed out"
                                     : "the server's answer could not be read"));
  }

  // One AUTHENTICATE exchange of a client-first SASL mechanism, written and read here (libetpan
  // knows XOAUTH2 only, and not the error challenge of RFC 7628 §3.2.3). The response goes with
  // the command where the server offers SASL-IR (RFC 4959), else after its "+". `said`: the
  // server's final answer. MAILIMAP_ERROR_LOGIN when the server refused.
  int Authenticate(const char* mechanism, const std::string& response, std::string& said) {
    mailimap* imap = imap_.get();
    const std::string tag = fmt::format("oauth{}", ++imap->imap_tag);
    const std::string encoded = Base64(response);
    const bool initial = mailimap_has_extension(imap, const_cast<char*>("SASL-IR")) == 1;
    bool sent = initial;
    if (!Send(fmt::format("{} AUTHENTICATE {}{}\r\n", tag, mechanism,
                          initial ? " " + encoded : std::string()))) {
      return MAILIMAP_ERROR_STREAM;
    }
    for (int challenges = 0; challenges < 3;) {
      const char* raw = mailimap_read_line(imap);
      if (raw == nullptr) return MAILIMAP_ERROR_STREAM;
      std::string line(raw);
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
      if (line.starts_with("+")) {
        ++challenges;
        // The first "+" asks for the response; a later one carries the server's error (a JSON
        // status), answered with an empty response (XOAUTH2) or %x01 (OAUTHBEARER, "AQ==").
        const std::string answer =
            !sent ? encoded : (std::string(mechanism) == "OAUTHBEARER" ? "AQ==" : "");
        sent = true;
        if (!Send(answer + "\r\n")) return MAILIMAP_ERROR_STREAM;
      } else if (line.starts_with(tag + " ")) {
        said = line.substr(tag.size() + 1);
        if (said.starts_with("OK")) {
          imap->imap_state = MAILIMAP_STATE_AUTHENTICATED;
          return MAILIMAP_NO_ERROR;
        }
        return MAILIMAP_ERROR_LOGIN;
      } else if (!line.starts_with("* ")) {
        return MAILIMAP_ERROR_PARSE;
      }
    }
    return MAILIMAP_ERROR_PARSE;
  }

  bool Send(const std::string& text) {
    mailstream* s = imap_->imap_stream;
    return mailstream_write(s, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
           mailstream_flush(s) == 0;
  }

  void capability() {
    // Asked for its side effect: the session records the capabilities.
    mailimap_capability_data* raw = nullptr;
    mailimap_capability(imap_.get(), &raw);
    CapabilityPtr caps(raw);
  }

  std::string FolderList() {
    ListResultPtr list;
    std::string names;
    if (List(imap_.get(), "*", list) == MAILIMAP_NO_ERROR && list) {
      int n = 0;
      for (clistiter* it = clist_begin(list.get()); it && n < 30; it = clist_next(it), ++n) {
        auto* mb = static_cast<mailimap_mailbox_list*>(clist_content(it));
        names += (names.empty() ? "" : ", ") + std::string(mb->mb_name);
      }
    }
    return names.empty() ? "(none listed)" : names;
  }

  // "Archive/Aggregate" with the server's delimiter.
  std::string Folder(std::string path) const {
    std::replace(path.begin(), path.end(), '/', delimiter_);
    return path;
  }

  Status EnsureFolder(const std::string& folder) {
    if (known_folders_.count(folder)) return Ok();
    ListResultPtr list;
    int r = List(imap_.get(), folder.c_str(), list);
    if (r != MAILIMAP_NO_ERROR) return Failed("listing folder " + folder, r);
    if (!list || !clist_begin(list.get())) {
      r = mailimap_create(imap_.get(), folder.c_str());
      if (r != MAILIMAP_NO_ERROR) return Failed("creating folder \"" + folder + "\"", r);
    }
    known_folders_.insert(folder);
    return Ok();
  }

  Status MarkDeleted(mailimap_set* set) {
    mailimap_flag_list* flags = mailimap_flag_list_new_empty();
    mailimap_flag_list_add(flags, mailimap_flag_new_deleted());
    StoreFlagsPtr att(mailimap_store_att_flags_new_add_flags_silent(flags));  // owns flags
    const int r = mailimap_uid_store(imap_.get(), set, att.get());
    if (r != MAILIMAP_NO_ERROR) return Failed("marking messages deleted", r);
    // UID EXPUNGE removes only these; a plain EXPUNGE would also remove what others marked.
    const int e =
        has_uidplus_ ? mailimap_uid_expunge(imap_.get(), set) : mailimap_expunge(imap_.get());
    if (e != MAILIMAP_NO_ERROR) return Failed("expunging messages", e);
    return Ok();
  }

  Status Move(const std::vector<std::uint32_t>& uids, const std::string& folder) {
    SetPtr set = MakeSet(uids);
    if (has_move_) {
      const int r = mailimap_uid_move(imap_.get(), set.get(), folder.c_str());
      if (r != MAILIMAP_NO_ERROR) return Failed("moving messages to \"" + folder + "\"", r);
      return Ok();
    }
    const int r = mailimap_uid_copy(imap_.get(), set.get(), folder.c_str());
    if (r != MAILIMAP_NO_ERROR) return Failed("copying messages to \"" + folder + "\"", r);
    return MarkDeleted(set.get());
  }

  Status Delete(const std::vector<std::uint32_t>& uids) {
    SetPtr set = MakeSet(uids);
    return MarkDeleted(set.get());
  }

  ImapOptions c_;
  std::size_t max_mail_bytes_;
  AccessTokens tokens_{c_};
  SessionPtr imap_;
  bool broken_ = false;         // the stream is unusable: no LOGOUT on close
  bool oauth_refused_ = false;  // the server refused the OAuth2 token of this connection
  std::string token_;           // OAuth2: the access token for the connection being made
  std::string host_buf_;
  bool has_move_ = false, has_uidplus_ = false;
  char delimiter_ = '/';
  std::set<std::string> known_folders_;
  std::vector<std::uint32_t> uids_;
  std::map<std::uint32_t, std::uint32_t> sizes_;
  std::size_t next_ = 0;
  std::uint32_t kept_above_ = 0;  // with after = keep: UIDs already read by this process
};

}  // namespace

std::unique_ptr<Source> MakeImapSource(const ImapOptions& config, std::size_t max_mail_bytes) {
  return std::make_unique<ImapSource>(config, max_mail_bytes);
}

}  // namespace dmarc::collect
