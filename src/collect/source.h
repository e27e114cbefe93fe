// Mail sources for `fetch`: where report mails wait (an IMAP folder, a POP3 mailbox, a Maildir, an
// mbox file, a drop directory), and what becomes of each mail once its reports are stored.
//
// The contract that keeps reports from being lost: a caller takes a batch with Next(), stores
// every report of the batch (the store commits), and only then calls File() for that batch. A
// source never removes or moves a mail before File(). A crash anywhere leaves the mails of the
// uncommitted batch where they were; the next run reads them again, and the store recognises the
// reports already committed as duplicates.
//
// Thread-safety: one Source is used by one thread at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/result.h"

namespace dmarc::collect {

// Bytes of mail one batch of Next() holds at most (at least one mail, whatever its size): the
// mails of a batch are in memory together until they are extracted.
constexpr std::size_t kMaxBatchMailBytes = 64u * 1024 * 1024;

// What a mail turned out to be; decides where it is filed.
enum class MailClass { kAggregate, kForensic, kSmtpTls, kInvalid };

// The folder name of each class: "Aggregate", "Forensic", "SMTP-TLS", "Invalid".
const char* FolderName(MailClass c);

struct MailItem {
  std::string id;     // the source's handle: a UID, a path, a UIDL
  std::string label;  // where it came from, for messages: "imap://host:993/INBOX;UID=7"
  std::string bytes;  // the whole mail (empty when error is set)
  std::optional<std::string> error;  // the mail could not be read (e.g. over the size limit)
};

struct Filing {
  std::string id;
  MailClass mail_class = MailClass::kInvalid;
};

class Source {
 public:
  virtual ~Source() = default;
  // "imap://dmarc@mail.example.com:993/INBOX" (never a password).
  virtual std::string Describe() const = 0;
  // Connects (when remote) and lists the mails waiting; returns how many.
  virtual Result<std::size_t> Open() = 0;
  // Before a first Open, without connecting: a local source's path exists and is what it should
  // be (a Maildir with new/ and cur/, an mbox file, a folder); a remote one is checked when it
  // connects. run, fetch and check-config refuse a configuration this fails for.
  virtual Status CheckPath() { return Ok(); }
  // The next mails, at most the source's batch size; empty when all listed mails were taken.
  virtual Result<std::vector<MailItem>> Next() = 0;
  // Files the given mails of the last batch, which are committed to the store.
  virtual Status File(const std::vector<Filing>& filings) = 0;
  // With --watch: waits up to `seconds` for new mail (IMAP IDLE where offered, else a sleep).
  // Returns early when the source knows new mail arrived.
  // Returns soon after `stop` becomes true.
  virtual Status Wait(std::int64_t seconds, const std::atomic<bool>& stop);
  // Ends the session (logout); Open() may be called again.
  virtual void Close() {}
};

// What becomes of a mail once every report in it is committed.
enum class After { kArchive, kMove, kDelete, kKeep };

enum class TlsMode { kTls, kStartTls, kNone };

// What IMAP and POP3 share: where the server is and how to log in.
struct ServerOptions {
  std::string host;
  int port = 0;  // 0: the protocol's port for the TLS mode
  TlsMode tls = TlsMode::kTls;
  bool verify_tls = true;
  std::string ca_file;  // empty: the system's trusted certificates
  std::string user;
  std::string password;  // never logged
  int batch_size = 50;   // mails per fetch and per store transaction
  int timeout = 60;      // seconds for any one network operation
};

// Where the refresh token of a delegated sign-in (`dmarc-report login`, collect/device_code.h) is
// kept between runs: the caller passes these (the store, sealed), so that sources do not know it.
struct RefreshTokenKeeper {
  std::function<Result<std::string>()> load;       // the token; an error when there is none
  std::function<Status(const std::string&)> save;  // keeps a rotated token instead
};

struct ImapOptions : ServerOptions {
  // "login" | "plain" (AUTHENTICATE PLAIN) | "xoauth2" | "oauthbearer" (OAuth2 access token,
  // AUTHENTICATE XOAUTH2 or OAUTHBEARER of RFC 7628).
  std::string auth = "login";
  // With an OAuth2 auth, where the access token comes from (exactly one of them):
  std::string token_file;  // a file holding the token, read again for every connection
  // A command (argv, run without a shell, at most `timeout` seconds) whose standard output's
  // first line is the token; run for every connection.
  std::vector<std::string> token_command;
  // The client credentials grant (RFC 6749 §4.4): a POST to this URL (Microsoft's
  // https://login.microsoftonline.com/TENANT/oauth2/v2.0/token) with client_id, client_secret and
  // scope; the token is kept until 60 s before its expires_in, and fetched anew after a refusal.
  std::string oauth2_token_url;
  std::string client_id;
  std::string client_secret;  // never logged
  std::string scope;
  // A Google service account's JSON key (domain-wide delegation): a JWT for `user`, signed with
  // its private key, exchanged at its token_uri (RFC 7523); scope default https://mail.google.com/.
  std::string service_account_file;
  // Delegated sign-in by the device-code flow (`dmarc-report login --source imap`): the device
  // authorization endpoint (Microsoft's https://login.microsoftonline.com/TENANT/oauth2/v2.0/
  // devicecode) beside oauth2_token_url, client_id (client_secret only when the endpoint wants
  // one) and scope; the refresh token is kept sealed in the store under token_key_file, and
  // `keeper` (set by the caller) loads and saves it.
  std::string oauth2_device_url;
  std::string token_key_file;
  RefreshTokenKeeper keeper;
  std::string folder = "INBOX";
  After after = After::kArchive;
  std::string archive_folder = "Archive";
  std::string move_to;  // with after = move: [YEAR] [MONTH] [DAY] [WEEK] are replaced
  bool idle = true;     // use IMAP IDLE with --watch when the server offers it
};

// auth = "xoauth2" or "oauthbearer".
bool IsOAuth2(const std::string& auth);

struct Pop3Options : ServerOptions {
  After after = After::kDelete;  // kDelete or kKeep
  // UIDLs of mails kept on the server that were already read (default: beside the store).
  std::string state_file;
};

// The scope of a delegated [graph] sign-in when graph.scope is not set: the signed-in user's
// mail (and mail shared with them), and a refresh token.
inline constexpr const char* kGraphDelegatedScope =
    "https://graph.microsoft.com/Mail.ReadWrite https://graph.microsoft.com/Mail.ReadWrite.Shared "
    "offline_access";

// [graph]: a mailbox folder of Exchange Online read with Microsoft Graph (REST), as an app with
// the client credentials grant (Mail.ReadWrite application permission).
struct GraphOptions {
  // "app": the app's own permission (client credentials grant); "device_code": a user signed in
  // with `dmarc-report login` (delegated permission), whose refresh token `keeper` keeps.
  std::string auth = "app";
  std::string token_key_file;  // with device_code: the key that seals the refresh token
  RefreshTokenKeeper keeper;
  std::string tenant_id;
  std::string client_id;
  std::string client_secret;  // never logged
  // Instead of client_secret: the certificate uploaded to the app registration and its private
  // key (PEM files; the key's may be the certificate's), for a signed client assertion.
  std::string certificate_file;
  std::string certificate_key_file;  // empty: certificate_file
  std::string mailbox;               // the user or shared mailbox: its UPN, "dmarc@example.com"
  std::string folder = "Inbox";      // a path from the mailbox's top: "Inbox/DMARC"
  After after = After::kArchive;
  std::string archive_folder = "Archive";  // from the top, "/" between levels
  std::string move_to;  // with after = move: [YEAR] [MONTH] [DAY] [WEEK] are replaced
  std::string graph_url = "https://graph.microsoft.com/v1.0";
  std::string login_url = "https://login.microsoftonline.com";  // + /TENANT/oauth2/v2.0/token
  std::string scope = "https://graph.microsoft.com/.default";
  std::string ca_file;  // empty: the system's trusted certificates
  int batch_size = 50;  // mails per batch and per store transaction
  // Requests to one JSON batch ($batch; Graph takes 20 at most); 1: a request of its own each.
  int batch_requests = 20;
  int timeout = 60;     // seconds for any one request
  int max_retries = 5;  // answers 429/503 waited out (Retry-After) before the request fails
  std::int64_t max_retry_wait = 120;  // seconds: a longer Retry-After is cut to this
};

// [gmail]: a Gmail (Google Workspace) mailbox read with the Gmail API (REST), as a service
// account with domain-wide delegation or as an installed app with a refresh token.
struct GmailOptions {
  std::string user;  // the mailbox, "dmarc@example.com": the JWT's subject, in every request's path
  // A service account's JSON key (the JWT bearer grant at its token_uri), or an installed app's
  // client_id, client_secret and refresh_token (the refresh token grant at token_url).
  std::string service_account_file;
  std::string client_id;
  std::string client_secret;  // never logged
  std::string refresh_token;  // never logged
  std::string token_url = "https://oauth2.googleapis.com/token";
  std::string scope = "https://www.googleapis.com/auth/gmail.modify";
  std::string label = "INBOX";  // the label listed, by its name ("": none, only `query`)
  std::string query;            // Gmail search ("has:attachment"), "": none
  After after = After::kArchive;
  // Labels named like IMAP's archive folders: "Archive/Aggregate", created when missing; the
  // source label is removed. after = delete moves a mail to the trash (Gmail empties it after 30
  // days), never deletes it for good.
  std::string archive_folder = "Archive";
  std::string move_to;  // with after = move: a label; [YEAR] [MONTH] [DAY] [WEEK] are replaced
  std::string api_url = "https://gmail.googleapis.com";
  std::string ca_file;  // empty: the system's trusted certificates
  int batch_size = 50;  // mails per batch and per store transaction
  int timeout = 60;     // seconds for any one request
  int max_retries = 5;  // throttled answers waited out (Retry-After) before the request fails
  std::int64_t max_retry_wait = 120;  // seconds: a longer Retry-After is cut to this
};

struct MaildirOptions {
  std::string path;
  After after = After::kArchive;           // kArchive, kDelete or kKeep
  std::string archive_folder = "Archive";  // Maildir++ subfolders .Archive.Aggregate, ...
  // With kDelete, mails without a report are archived all the same (the [smtp] spool: the
  // Invalid folder is the only copy of what a sender sent).
  bool archive_invalid = false;
};

// The local sources. `max_mail_bytes` bounds each mail read.
std::unique_ptr<Source> MakeMaildirSource(const MaildirOptions& config, std::size_t max_mail_bytes);
std::unique_ptr<Source> MakeMboxSource(const std::string& path, std::size_t max_mail_bytes);
std::unique_ptr<Source> MakeDirectorySource(const std::string& path, std::size_t max_mail_bytes);

// The remote sources (libetpan).
std::unique_ptr<Source> MakeImapSource(const ImapOptions& config, std::size_t max_mail_bytes);
std::unique_ptr<Source> MakePop3Source(const Pop3Options& config,
                                       const std::string& default_state_dir,
                                       std::size_t max_mail_bytes);

// Microsoft Graph (libcurl).
std::unique_ptr<Source> MakeGraphSource(const GraphOptions& config, std::size_t max_mail_bytes);

// The Gmail API (libcurl).
std::unique_ptr<Source> MakeGmailSource(const GmailOptions& config, std::size_t max_mail_bytes);

// "done/[YEAR]/week_[WEEK]" → "done/2026/week_09" for the UTC time t (ISO 8601 week).
std::string ExpandFolderTemplate(const std::string& pattern, std::int64_t t);

}  // namespace dmarc::collect
