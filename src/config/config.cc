#include "config/config.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "base/files.h"
#include "base/time.h"

namespace dmarc::config {

namespace {

using collect::After;
using collect::TlsMode;
using log::SyslogTransport;

constexpr std::size_t kMaxFileBytes = 1024 * 1024;  // a config or secret file larger is a mistake

Result<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  std::string data(kMaxFileBytes + 1, '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<std::size_t>(in.gcount()));
  if (data.size() > kMaxFileBytes) return MakeError(fmt::format("{}: larger than 1 MiB", path));
  return data;
}

// One table of the file plus its environment overrides. Each Bind call names one key; whatever
// the table holds that no Bind call asked for is reported as unknown (a typo would otherwise be
// silently ignored).
class Table {
 public:
  // A table found elsewhere than at the root ([output.NAME]: name "output.NAME").
  Table(const toml::table* table, std::string name, const EnvLookup& env,
        std::vector<std::string>& errors, std::vector<std::string>& secrets,
        std::vector<std::string>& warnings, bool /*nested*/)
      : name_(std::move(name)),
        env_(env),
        errors_(errors),
        secrets_(secrets),
        warnings_(warnings),
        table_(table) {}

  // Any value of the table's other keys as text (a string as it is; a number or boolean as
  // written; an array of strings joined with ","), with its environment variable over it. Every
  // key of the table not yet asked for, by name.
  std::vector<std::pair<std::string, std::string>> Rest() {
    std::vector<std::pair<std::string, std::string>> out;
    if (!table_) return out;
    for (const auto& [k, v] : *table_) {
      const std::string key(k.str());
      if (known_.count(key)) continue;
      known_.insert(key);
      std::optional<std::string> text = AsText(v);
      if (!text) {
        Error(key, "must be a string, a number, a boolean or an array of strings");
        continue;
      }
      if (const char* e = Env(key.c_str())) text = e;
      out.emplace_back(key, *text);
    }
    return out;
  }

  Table(const toml::table* root, std::string name, const EnvLookup& env,
        std::vector<std::string>& errors, std::vector<std::string>& secrets,
        std::vector<std::string>& warnings)
      : name_(std::move(name)), env_(env), errors_(errors), secrets_(secrets), warnings_(warnings) {
    if (root) {
      const toml::node* n = root->get(name_);
      if (n && !n->is_table()) {
        Error("", "must be a table ([" + name_ + "])");
      } else if (n) {
        table_ = n->as_table();
      }
    }
  }

  // True when the file has the table or the environment sets any of its keys.
  bool present() const { return table_ != nullptr || env_used_; }

  void Str(const char* key, std::string& out) {
    if (auto v = Text(key)) out = *v;
  }

  // `key`, `key_file`, and their environment variables; the later ones win. The value is
  // remembered among the secrets that logging keeps out of its lines.
  void Secret(const char* key, std::string& out) {
    ReadSecret(key, out);
    if (!out.empty()) AddSecret(key, out);
  }

  // The forms a login's password takes in IMAP and POP3 are kept out of log lines too
  // (log::EncodedSecretForms); other secrets (the Consul token) are sent as they are. A secret
  // this short is weak, and every place it appears in a log line (a word, a number) becomes
  // [redacted]: a warning says so.
  void AddSecret(const std::string& key, const std::string& secret) {
    secrets_.push_back(secret);
    if (secret.size() < kShortSecret) {
      warnings_.push_back(fmt::format(
          "[{}] {}: the secret is shorter than {} characters: easy to guess, and log lines "
          "show [redacted] wherever its text appears",
          name_, key, kShortSecret));
    }
  }
  static constexpr std::size_t kShortSecret = 8;

  void SecretForms(const std::string& secret, const std::string& user) {
    for (auto& form : log::EncodedSecretForms(secret, user)) secrets_.push_back(std::move(form));
  }

  void ReadSecret(const char* key, std::string& out) {
    Str(key, out);
    const std::string file_key = std::string(key) + "_file";
    std::string file;
    Str(file_key.c_str(), file);
    if (file.empty()) return;
    WarnIfReadableByOthers(file_key, file);
    auto data = ReadSmallFile(file);
    if (!data) return Error(file_key, data.error());
    std::string s = std::move(data).value();
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    out = std::move(s);
  }

  // A secret in a file is only as secret as the file (a password, a token, the users' hashes).
  void WarnIfReadableByOthers(const std::string& key, const std::string& file) {
    if (!ReadableByOthers(file)) return;
    Warn(key, fmt::format("{} is readable by other users; chmod 600 {}", file, file));
  }

  // "[SECTION] KEY: MESSAGE", among the configuration's warnings.
  void Warn(const std::string& key, const std::string& message) {
    warnings_.push_back(fmt::format("[{}] {}: {}", name_, key, message));
  }

  void Bool(const char* key, bool& out) {
    if (const toml::node* n = Node(key)) {
      if (auto b = n->value<bool>()) {
        out = *b;
      } else {
        Error(key, "must be true or false");
      }
    }
    if (const char* e = Env(key)) {
      const std::string v = Lower(e);
      if (v == "true" || v == "1" || v == "yes") {
        out = true;
      } else if (v == "false" || v == "0" || v == "no") {
        out = false;
      } else {
        Error(key, fmt::format("{}: must be true or false, not \"{}\"", EnvName(name_, key), e));
      }
    }
  }

  template <class Int>
  void Integer(const char* key, Int& out, std::int64_t min, std::int64_t max) {
    std::optional<std::int64_t> v;
    if (const toml::node* n = Node(key)) {
      v = n->value<std::int64_t>();
      if (!v || !n->is_integer()) return Error(key, "must be an integer");
    }
    if (const char* e = Env(key)) {
      char* end = nullptr;
      errno = 0;
      const long long parsed = std::strtoll(e, &end, 10);
      if (errno || end == e || *end) {
        return Error(key,
                     fmt::format("{}: must be an integer, not \"{}\"", EnvName(name_, key), e));
      }
      v = parsed;
    }
    if (!v) return;
    if (*v < min || *v > max) {
      return Error(key, fmt::format("must be {}..{}, not {}", min, max, *v));
    }
    out = static_cast<Int>(*v);
  }

  // An array of strings; from the environment, a comma-separated list (empty items dropped).
  void StrList(const char* key, std::vector<std::string>& out) {
    if (const toml::node* n = Node(key)) {
      const toml::array* a = n->as_array();
      std::vector<std::string> values;
      bool ok = a != nullptr;
      if (a) {
        for (const auto& item : *a) {
          auto v = item.value<std::string>();
          if (!v || !item.is_string()) {
            ok = false;
            break;
          }
          values.push_back(*v);
        }
      }
      if (!ok) {
        Error(key, "must be an array of strings");
      } else {
        out = std::move(values);
      }
    }
    if (const char* e = Env(key)) {
      out.clear();
      std::stringstream in(e);
      for (std::string item; std::getline(in, item, ',');) {
        if (!item.empty()) out.push_back(item);
      }
    }
  }

  // Seconds, as an integer or a string such as "90m", "12h", "7d".
  void Seconds(const char* key, std::int64_t& out, std::int64_t min, std::int64_t max) {
    std::optional<std::string> text;
    if (const toml::node* n = Node(key)) {
      if (n->is_integer()) {
        text = std::to_string(*n->value<std::int64_t>());
      } else if (n->is_string()) {
        text = *n->value<std::string>();
      } else {
        return Error(key, "must be a number of seconds or a duration such as \"7d\"");
      }
    }
    if (const char* e = Env(key)) text = e;
    if (!text) return;
    const auto v = ParseDuration(*text);
    if (!v) {
      return Error(key, fmt::format("must be seconds or a duration such as \"90m\", \"12h\", "
                                    "\"7d\", not \"{}\"",
                                    *text));
    }
    if (*v < min || *v > max) {
      return Error(key, fmt::format("must be {}..{} seconds, not {}", min, max, *v));
    }
    out = *v;
  }

  template <class E>
  void Choice(const char* key, E& out, std::initializer_list<std::pair<const char*, E>> choices) {
    ChoiceOf(key, out, choices);
  }

  template <class E, class Choices>
  void ChoiceOf(const char* key, E& out, const Choices& choices) {
    auto v = Text(key);
    if (!v) return;
    std::string names;
    for (const auto& [name, value] : choices) {
      if (*v == name) {
        out = value;
        return;
      }
      names += names.empty() ? fmt::format("\"{}\"", name) : fmt::format(", \"{}\"", name);
    }
    Error(key, fmt::format("must be one of {}, not \"{}\"", names, *v));
  }

  // A string that must be one of `words`.
  void Word(const char* key, std::string& out, std::initializer_list<const char*> words) {
    std::vector<std::pair<const char*, std::string>> choices;
    for (const char* w : words) choices.emplace_back(w, w);
    ChoiceOf(key, out, choices);
  }

  void Error(const std::string& key, const std::string& message) {
    errors_.push_back(key.empty() ? fmt::format("[{}]: {}", name_, message)
                                  : fmt::format("{}.{}: {}", name_, key, message));
  }

  // Reports keys of the table that no Bind call asked for.
  void CheckUnknown() {
    if (!table_) return;
    for (const auto& [k, v] : *table_) {
      if (known_.count(std::string(k.str()))) continue;
      std::string expected;
      for (const auto& name : known_) expected += (expected.empty() ? "" : ", ") + name;
      Error(std::string(k.str()), "unknown key (expected one of: " + expected + ")");
    }
  }

 private:
  static std::string Lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }

  static std::optional<std::string> AsText(const toml::node& n) {
    if (auto v = n.value<std::string>(); v && n.is_string()) return *v;
    if (n.is_integer()) return std::to_string(*n.value<std::int64_t>());
    if (n.is_boolean()) return *n.value<bool>() ? "true" : "false";
    if (n.is_floating_point()) return fmt::format("{}", *n.value<double>());
    const toml::array* a = n.as_array();
    if (!a) return std::nullopt;
    std::string joined;
    for (const auto& item : *a) {
      auto v = item.value<std::string>();
      if (!v || !item.is_string()) return std::nullopt;
      joined += (joined.empty() ? "" : ",") + *v;
    }
    return joined;
  }

  const toml::node* Node(const char* key) {
    known_.insert(key);
    return table_ ? table_->get(key) : nullptr;
  }

  const char* Env(const char* key) {
    const char* v = env_ ? env_(EnvName(name_, key)) : nullptr;
    if (v) env_used_ = true;
    return v;
  }

  std::optional<std::string> Text(const char* key) {
    std::optional<std::string> out;
    if (const toml::node* n = Node(key)) {
      if (auto s = n->value<std::string>(); s && n->is_string()) {
        out = *s;
      } else {
        Error(key, "must be a string");
      }
    }
    if (const char* e = Env(key)) out = e;
    return out;
  }

  std::string name_;
  const EnvLookup& env_;
  std::vector<std::string>& errors_;
  std::vector<std::string>& secrets_;
  std::vector<std::string>& warnings_;
  const toml::table* table_ = nullptr;
  bool env_used_ = false;
  std::set<std::string> known_;
};

// ---- One Bind function per table: the only place a key is mapped to a field. ----

void Bind(Table& t, StoreConfig& c) {
  t.Str("url", c.url);
  t.Str("read_url", c.read_url);
  t.Integer("retention_days", c.retention_days, 0, 100000);
  t.Secret("password", c.password);
  if (c.url.empty()) t.Error("url", "must not be empty");
}

// "udp://host:port", "tcp://host:port", "host:port" or "host" (UDP; port 514); [v6] in brackets.
bool ParseSyslogTarget(const std::string& text, log::Options& c) {
  std::string rest = text;
  c.syslog_transport = SyslogTransport::kUdp;
  if (rest.starts_with("udp://")) {
    rest = rest.substr(6);
  } else if (rest.starts_with("tcp://")) {
    c.syslog_transport = SyslogTransport::kTcp;
    rest = rest.substr(6);
  } else if (rest.find("://") != std::string::npos) {
    return false;
  }
  std::string port;
  if (rest.starts_with("[")) {
    const auto close = rest.find(']');
    if (close == std::string::npos) return false;
    c.syslog_host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return false;
      port = rest.substr(close + 2);
    }
  } else if (const auto colon = rest.rfind(':'); colon != std::string::npos) {
    if (rest.find(':') != colon) return false;  // a bare IPv6 address needs brackets
    c.syslog_host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  } else {
    c.syslog_host = rest;
  }
  if (c.syslog_host.empty() || c.syslog_host.find('/') != std::string::npos) return false;
  c.syslog_port = 514;
  if (!port.empty() || rest.ends_with(":")) {
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos) {
      return false;
    }
    c.syslog_port = std::stoi(port);
    if (c.syslog_port < 1 || c.syslog_port > 65535) return false;
  }
  return true;
}

void Bind(Table& t, log::Options& c) {
  t.Word("level", c.level, {"debug", "info", "warning", "error", "critical"});
  t.Bool("stderr", c.to_stderr);
  t.Str("file", c.file);
  t.Str("syslog", c.syslog);
  t.Word("syslog_facility", c.syslog_facility,
         {"kern", "user", "mail", "daemon", "auth", "syslog", "local0", "local1", "local2",
          "local3", "local4", "local5", "local6", "local7"});
  if (!c.syslog.empty() && !ParseSyslogTarget(c.syslog, c)) {
    t.Error("syslog", fmt::format("must be \"udp://HOST:PORT\", \"tcp://HOST:PORT\" or \"HOST\" "
                                  "(UDP, port 514), not \"{}\"",
                                  c.syslog));
  }
}

// A Consul duration: one or more NUMBER UNIT pairs, units ms, s, m, h ("10s", "1h30m").
bool IsDuration(const std::string& s) {
  std::size_t i = 0;
  if (s.empty() || s.size() > 32) return false;
  while (i < s.size()) {
    const std::size_t digits = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == digits) return false;
    if (s.compare(i, 2, "ms") == 0) {
      i += 2;
    } else if (i < s.size() && (s[i] == 's' || s[i] == 'm' || s[i] == 'h')) {
      ++i;
    } else {
      return false;
    }
  }
  return true;
}

void Bind(Table& t, consul::Options& c) {
  t.Str("address", c.address);
  t.Secret("token", c.token);
  t.Str("service_name", c.service_name);
  t.Str("service_id", c.service_id);
  t.Str("service_address", c.service_address);
  t.Integer("service_port", c.service_port, 1, 65535);
  t.Str("check_url", c.check_url);
  t.Str("check_interval", c.check_interval);
  t.Str("check_timeout", c.check_timeout);
  t.Str("deregister_after", c.deregister_after);
  if (!c.address.starts_with("http://") && !c.address.starts_with("https://")) {
    t.Error("address", fmt::format("must be an http:// or https:// URL, not \"{}\"", c.address));
  }
  if (c.service_name.empty()) t.Error("service_name", "must not be empty");
  for (const auto& [key, value] :
       {std::pair<const char*, const std::string*>{"check_interval", &c.check_interval},
        {"check_timeout", &c.check_timeout},
        {"deregister_after", &c.deregister_after}}) {
    if (!IsDuration(*value)) {
      t.Error(key,
              fmt::format("must be a duration such as \"10s\", \"1m\" or \"1h30m\", not \"{}\"",
                          *value));
    }
  }
}

void Bind(Table& t, WebConfig& c) {
  t.Bool("enabled", c.enabled);
  t.Str("listen", c.listen);
  t.Str("token_file", c.token_file);
  t.Str("users_file", c.users_file);
  t.StrList("editors", c.editors);
  if (!c.editors.empty() && c.users_file.empty()) {
    t.Error("editors", "names users of users_file, which is not set");
  }
  if (!c.token_file.empty()) t.WarnIfReadableByOthers("token_file", c.token_file);
  if (!c.users_file.empty()) t.WarnIfReadableByOthers("users_file", c.users_file);
  t.Str("tls_cert", c.tls_cert);
  t.Str("tls_key", c.tls_key);
  t.Bool("show_failure_samples", c.show_failure_samples);
  t.StrList("allowed_hosts", c.allowed_hosts);
  t.StrList("forwarders_file", c.forwarders_files);
  // The limits against hostile clients (docs/security.md, "The web server").
  t.Integer("max_connections", c.max_connections, 1, 100'000);
  t.Integer("max_connections_per_client", c.max_connections_per_client, 1, 100'000);
  t.Integer("idle_timeout", c.idle_timeout, 1, 3600);
  t.Integer("max_header_bytes", c.max_header_bytes, 4096, 1 << 20);
  t.Integer("max_headers", c.max_headers, 8, 10'000);
  t.Integer("max_body_bytes", c.max_body_bytes, 1024, 16 << 20);
  t.Integer("sign_in_threads", c.sign_in_threads, 1, 64);
  t.Integer("sign_in_queue", c.sign_in_queue, 1, 10'000);
  if (c.listen.empty()) t.Error("listen", "must be HOST:PORT, e.g. \"127.0.0.1:8080\"");
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    t.Error(c.tls_cert.empty() ? "tls_cert" : "tls_key", "tls_cert and tls_key go together");
  }
}

void Bind(Table& t, FetchConfig& c) {
  t.Integer("jobs", c.jobs, 0, 256);
  t.Integer("watch_interval", c.watch_interval, 1, 86400);
  t.Integer("max_backoff", c.max_backoff, 1, 86400);
}

const std::initializer_list<std::pair<const char*, TlsMode>> kTlsModes = {
    {"tls", TlsMode::kTls}, {"starttls", TlsMode::kStartTls}, {"none", TlsMode::kNone}};

// The keys IMAP and POP3 share; `ports` are the defaults for TLS and for the other modes.
void Bind(Table& t, collect::ServerOptions& c, std::pair<int, int> ports) {
  t.Str("host", c.host);
  t.Integer("port", c.port, 1, 65535);
  t.Choice("tls", c.tls, kTlsModes);
  t.Bool("verify_tls", c.verify_tls);
  t.Str("ca_file", c.ca_file);
  t.Str("user", c.user);
  t.Secret("password", c.password);
  t.SecretForms(c.password, c.user);  // SASL PLAIN carries the user name with the password
  t.Integer("batch_size", c.batch_size, 1, 10000);
  t.Integer("timeout", c.timeout, 1, 3600);
  if (!t.present()) return;
  if (c.host.empty()) t.Error("host", "is required");
  if (c.user.empty()) t.Error("user", "is required");
  if (c.port == 0) c.port = c.tls == TlsMode::kTls ? ports.first : ports.second;
}

// A delegated sign-in (oauth2_device_url): the token URL, the key file and a scope go with it.
void CheckImapDeviceCode(Table& t, const collect::ImapOptions& c) {
  if (c.oauth2_device_url.empty()) {
    if (!c.token_key_file.empty()) t.Error("token_key_file", "goes with oauth2_device_url");
    return;
  }
  if (!c.oauth2_device_url.starts_with("https://") && !c.oauth2_device_url.starts_with("http://")) {
    t.Error("oauth2_device_url", "must be an https:// or http:// URL");
  }
  if (c.oauth2_token_url.empty()) t.Error("oauth2_token_url", "is required with oauth2_device_url");
  if (c.token_key_file.empty()) {
    t.Error("token_key_file",
            "is required with oauth2_device_url: the key the refresh token is sealed with");
  }
  if (c.scope.empty()) {
    t.Error("scope",
            "is required with oauth2_device_url (Microsoft 365: "
            "\"https://outlook.office.com/IMAP.AccessAsUser.All offline_access\")");
  }
}

// auth, and the OAuth2 token source that goes with "xoauth2" and "oauthbearer".
void BindOAuth2(Table& t, const collect::ImapOptions& c) {
  if (c.auth != "login" && c.auth != "plain" && !collect::IsOAuth2(c.auth)) {
    t.Error("auth", fmt::format("must be \"login\", \"plain\", \"xoauth2\" or \"oauthbearer\", "
                                "not \"{}\"",
                                c.auth));
    return;
  }
  const int sources = static_cast<int>(!c.token_file.empty()) +
                      static_cast<int>(!c.token_command.empty()) +
                      static_cast<int>(!c.oauth2_token_url.empty()) +
                      static_cast<int>(!c.service_account_file.empty());
  if (!collect::IsOAuth2(c.auth)) {
    if (sources > 0) {
      t.Error(!c.token_file.empty()         ? "token_file"
              : !c.token_command.empty()    ? "token_command"
              : !c.oauth2_token_url.empty() ? "oauth2_token_url"
                                            : "service_account_file",
              "goes with auth = \"xoauth2\" or \"oauthbearer\"");
    }
    return;
  }
  constexpr const char* kSources =
      "token_file, token_command, oauth2_token_url or service_account_file";
  if (sources == 0) {
    t.Error("auth", fmt::format("\"{}\" needs a token source: {}", c.auth, kSources));
  } else if (sources > 1) {
    t.Error("auth", fmt::format("give one token source: {}", kSources));
  }
  if (!c.service_account_file.empty()) {
    t.WarnIfReadableByOthers("service_account_file", c.service_account_file);
  }
  if (!c.oauth2_token_url.empty()) {
    if (!c.oauth2_token_url.starts_with("https://") && !c.oauth2_token_url.starts_with("http://")) {
      t.Error("oauth2_token_url", "must be an https:// or http:// URL");
    }
    if (c.client_id.empty()) t.Error("client_id", "is required with oauth2_token_url");
    if (c.client_secret.empty() && c.oauth2_device_url.empty()) {
      t.Error("client_secret", "is required with oauth2_token_url (client_secret_file)");
    }
  }
  CheckImapDeviceCode(t, c);
  if (!c.token_file.empty()) t.WarnIfReadableByOthers("token_file", c.token_file);
  if (!c.password.empty()) {
    t.Warn("password", fmt::format("is not used: auth = \"{}\" signs in with a token", c.auth));
  }
}

// What IMAP and Graph do with a mail once its reports are stored: after, archive_folder, move_to.
void BindFiling(Table& t, After& after, std::string& archive_folder, std::string& move_to) {
  t.Choice("after", after,
           {{"archive", After::kArchive},
            {"move", After::kMove},
            {"delete", After::kDelete},
            {"keep", After::kKeep}});
  t.Str("archive_folder", archive_folder);
  t.Str("move_to", move_to);
}

void CheckFiling(Table& t, After after, const std::string& archive_folder,
                 const std::string& move_to) {
  if (after == After::kMove && move_to.empty()) {
    t.Error("move_to", "is required with after = \"move\"");
  }
  if (after == After::kArchive && archive_folder.empty()) {
    t.Error("archive_folder", "must not be empty with after = \"archive\"");
  }
}

void Bind(Table& t, collect::ImapOptions& c) {
  Bind(t, static_cast<collect::ServerOptions&>(c), {993, 143});
  t.Str("auth", c.auth);
  t.Str("token_file", c.token_file);
  t.StrList("token_command", c.token_command);
  t.Str("oauth2_token_url", c.oauth2_token_url);
  t.Str("client_id", c.client_id);
  t.Str("service_account_file", c.service_account_file);
  t.Secret("client_secret", c.client_secret);
  t.Str("scope", c.scope);
  t.Str("oauth2_device_url", c.oauth2_device_url);
  t.Str("token_key_file", c.token_key_file);
  t.Str("folder", c.folder);
  BindFiling(t, c.after, c.archive_folder, c.move_to);
  t.Bool("idle", c.idle);
  if (!t.present()) return;
  if (c.folder.empty()) t.Error("folder", "must not be empty");
  BindOAuth2(t, c);
  CheckFiling(t, c.after, c.archive_folder, c.move_to);
}

// A URL key: http:// or https://, without a trailing '/' (one is removed).
void HttpUrl(Table& t, const char* key, std::string& url) {
  t.Str(key, url);
  while (url.ends_with("/")) url.pop_back();
  if (!url.starts_with("https://") && !url.starts_with("http://")) {
    t.Error(key, fmt::format("must be an https:// or http:// URL, not \"{}\"", url));
  }
}

// A delegated [graph] (auth = "device_code"): the key file of the sealed refresh token, and a scope
// that gives one. The app is a public client: no secret, no certificate.
void CheckGraphDelegated(Table& t, const collect::GraphOptions& c) {
  if (c.token_key_file.empty()) {
    t.Error("token_key_file",
            "is required with auth = \"device_code\" (a key file; dmarc-report login makes it)");
  } else {
    t.WarnIfReadableByOthers("token_key_file", c.token_key_file);
  }
  if (!c.client_secret.empty() || !c.certificate_file.empty()) {
    t.Error(c.client_secret.empty() ? "certificate_file" : "client_secret",
            "goes with auth = \"app\"; a device-code sign-in uses none");
  }
  if (c.scope.find("offline_access") == std::string::npos) {
    t.Error("scope",
            "must include offline_access with auth = \"device_code\" (else no refresh "
            "token is given)");
  }
}

// [graph]'s required keys, and its credential: a secret or a certificate.
void CheckGraph(Table& t, const collect::GraphOptions& c) {
  for (const auto& [key, value] :
       {std::pair<const char*, const std::string*>{"tenant_id", &c.tenant_id},
        {"client_id", &c.client_id},
        {"mailbox", &c.mailbox},
        {"folder", &c.folder}}) {
    if (value->empty()) t.Error(key, "is required");
  }
  CheckFiling(t, c.after, c.archive_folder, c.move_to);
  if (c.auth == "device_code") {
    CheckGraphDelegated(t, c);
    return;
  }
  if (c.auth != "app") {
    t.Error("auth", fmt::format("must be \"app\" or \"device_code\", not \"{}\"", c.auth));
  }
  if (c.client_secret.empty() == c.certificate_file.empty()) {
    t.Error("client_secret",
            "give one of client_secret_file (or client_secret) and certificate_file");
  }
  if (!c.certificate_key_file.empty() && c.certificate_file.empty()) {
    t.Error("certificate_key_file", "goes with certificate_file");
  }
  const std::string& key =
      c.certificate_key_file.empty() ? c.certificate_file : c.certificate_key_file;
  if (!key.empty()) t.WarnIfReadableByOthers("certificate_key_file", key);
}

void Bind(Table& t, collect::GraphOptions& c) {
  t.Str("auth", c.auth);
  t.Str("token_key_file", c.token_key_file);
  t.Str("tenant_id", c.tenant_id);
  t.Str("client_id", c.client_id);
  t.Secret("client_secret", c.client_secret);
  t.Str("certificate_file", c.certificate_file);
  t.Str("certificate_key_file", c.certificate_key_file);
  t.Str("mailbox", c.mailbox);
  t.Str("folder", c.folder);
  BindFiling(t, c.after, c.archive_folder, c.move_to);
  HttpUrl(t, "graph_url", c.graph_url);
  HttpUrl(t, "login_url", c.login_url);
  t.Str("scope", c.scope);
  t.Str("ca_file", c.ca_file);
  t.Integer("batch_size", c.batch_size, 1, 10000);
  t.Integer("batch_requests", c.batch_requests, 1, 20);  // Graph's limit for one $batch
  t.Integer("timeout", c.timeout, 1, 3600);
  // The app-only scope means nothing to a delegated sign-in: the mail permissions instead.
  if (c.auth == "device_code" && c.scope == collect::GraphOptions().scope) {
    c.scope = collect::kGraphDelegatedScope;
  }
  if (t.present()) CheckGraph(t, c);
}

// [gmail]'s required keys, and its credential: a service account's key or a refresh token.
void CheckGmail(Table& t, const collect::GmailOptions& c) {
  if (c.user.empty()) t.Error("user", "is required");
  if (c.label.empty() && c.query.empty()) t.Error("label", "give a label, a query, or both");
  CheckFiling(t, c.after, c.archive_folder, c.move_to);
  const bool refresh = !c.client_id.empty() || !c.client_secret.empty() || !c.refresh_token.empty();
  if (c.service_account_file.empty() == !refresh) {
    t.Error("service_account_file",
            "give one of service_account_file and a refresh token (client_id, "
            "client_secret_file, refresh_token_file)");
  } else if (refresh) {
    for (const auto& [key, value] :
         {std::pair<const char*, const std::string*>{"client_id", &c.client_id},
          {"client_secret", &c.client_secret},
          {"refresh_token", &c.refresh_token}}) {
      if (value->empty()) t.Error(key, "is required with a refresh token");
    }
  } else {
    t.WarnIfReadableByOthers("service_account_file", c.service_account_file);
  }
}

void Bind(Table& t, collect::GmailOptions& c) {
  t.Str("user", c.user);
  t.Str("service_account_file", c.service_account_file);
  t.Str("client_id", c.client_id);
  t.Secret("client_secret", c.client_secret);
  t.Secret("refresh_token", c.refresh_token);
  HttpUrl(t, "token_url", c.token_url);
  t.Str("scope", c.scope);
  t.Str("label", c.label);
  t.Str("query", c.query);
  BindFiling(t, c.after, c.archive_folder, c.move_to);
  HttpUrl(t, "api_url", c.api_url);
  t.Str("ca_file", c.ca_file);
  t.Integer("batch_size", c.batch_size, 1, 10000);
  t.Integer("timeout", c.timeout, 1, 3600);
  if (t.present()) CheckGmail(t, c);
}

void Bind(Table& t, collect::Pop3Options& c) {
  Bind(t, static_cast<collect::ServerOptions&>(c), {995, 110});
  t.Choice("after", c.after, {{"delete", After::kDelete}, {"keep", After::kKeep}});
  t.Str("state_file", c.state_file);
}

void Bind(Table& t, PathConfig& c) {
  t.Str("path", c.path);
  if (t.present() && c.path.empty()) t.Error("path", "is required");
}

void Bind(Table& t, collect::MaildirOptions& c) {
  t.Str("path", c.path);
  t.Choice("after", c.after,
           {{"archive", After::kArchive}, {"delete", After::kDelete}, {"keep", After::kKeep}});
  t.Str("archive_folder", c.archive_folder);
  if (!t.present()) return;
  if (c.path.empty()) t.Error("path", "is required");
  if (c.archive_folder.empty() || c.archive_folder.find('/') != std::string::npos) {
    t.Error("archive_folder", "must be a folder name without '/'");
  }
}

// [smtp]: the receiver's limits are those of docs/security.md, "The SMTP receiver".
void Bind(Table& t, SmtpConfig& c) {
  t.Str("listen", c.listen);
  t.Str("hostname", c.hostname);
  t.StrList("accept", c.accept);
  t.Str("spool", c.spool);
  t.Choice("after", c.after, {{"archive", After::kArchive}, {"delete", After::kDelete}});
  t.Str("archive_folder", c.archive_folder);
  t.Str("tls_cert", c.tls_cert);
  t.Str("tls_key", c.tls_key);
  t.Integer("max_message_bytes", c.max_message_bytes, 1024, std::int64_t{1} << 30);
  t.Integer("max_recipients", c.max_recipients, 1, 10'000);
  t.Integer("max_connections", c.max_connections, 1, 100'000);
  t.Integer("max_connections_per_client", c.max_connections_per_client, 1, 100'000);
  t.Seconds("command_timeout", c.command_timeout, 1, 3600);
  t.Seconds("data_timeout", c.data_timeout, 1, 86'400);
  if (!t.present()) return;
  if (c.accept.empty()) {
    t.Error("accept", "is required: the report addresses or domains to accept mail for");
  }
  for (const auto& entry : c.accept) {
    if (Status ok = smtp::CheckAcceptEntry(entry); !ok) t.Error("accept", ok.error());
  }
  if (c.listen.empty()) t.Error("listen", "must be HOST:PORT, e.g. \"0.0.0.0:2525\"");
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    t.Error(c.tls_cert.empty() ? "tls_cert" : "tls_key", "tls_cert and tls_key go together");
  }
  if (c.archive_folder.empty() || c.archive_folder.find('/') != std::string::npos) {
    t.Error("archive_folder", "must be a folder name without '/'");
  }
}

void Bind(Table& t, enrich::Options& c) {
  t.Bool("enabled", c.enabled);
  t.Bool("offline", c.offline);
  t.StrList("nameservers", c.nameservers);
  t.Integer("dns_concurrency", c.dns_concurrency, 1, 10000);
  t.Integer("dns_timeout_ms", c.dns_timeout_ms, 1, 60000);
  t.Integer("dns_retries", c.dns_retries, 0, 10);
  t.Integer("dns_max_addresses", c.dns_max_addresses, 1, 100'000'000);
  t.Integer("dns_max_seconds", c.dns_max_seconds, 1, 86'400);
  t.Seconds("dns_cache_ttl", c.dns_cache_ttl_seconds, 0, 10LL * 365 * 86400);
  t.StrList("geoip_db", c.geoip_dbs);
  t.StrList("services_file", c.services_files);
  for (const auto& ns : c.nameservers) {
    if (auto n = enrich::NormalizeNameserver(ns); !n) t.Error("nameservers", n.error());
  }
}

void Bind(Table& t, FailureConfig& c) {
  t.Choice("keep_sample", c.keep_sample,
           {{"headers", parse::KeepSample::kHeaders},
            {"full", parse::KeepSample::kFull},
            {"none", parse::KeepSample::kNone}});
}

// ---- [output.NAME]: any number, each with a type (docs/outputs.md) ----

// NAME: what `dmarc-report outputs`, the outbox and the environment variables know it by.
bool ValidOutputName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (const char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

void BindOutput(Table& t, outputs::OutputTable& o) {
  t.Str("type", o.output.type);
  t.Bool("required", o.output.required);
  t.Integer("batch_size", o.delivery.batch_size, 1, 10'000);
  t.Integer("batch_records", o.delivery.batch_records, 1, 10'000'000);
  t.Seconds("retry_min", o.delivery.retry_min_seconds, 1, 86'400);
  t.Seconds("retry_max", o.delivery.retry_max_seconds, 1, 7 * 86'400);
  if (o.output.type.empty()) t.Error("type", "is required");
  if (o.delivery.retry_max_seconds < o.delivery.retry_min_seconds) {
    t.Error("retry_max", "must not be less than retry_min");
  }
  for (auto& [key, value] : t.Rest()) {
    // A secret's file is read by the output; its content is kept out of log lines from here.
    if (key.ends_with("_file")) {
      if (auto data = ReadSmallFile(value)) {
        std::string secret = std::move(data).value();
        while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) {
          secret.pop_back();
        }
        if (!secret.empty()) t.AddSecret(key, secret);
        t.WarnIfReadableByOthers(key, value);
      }
    }
    o.output.options.emplace(std::move(key), std::move(value));
  }
}

// The largest DMARC_REPORT_OUTPUTS value read.
constexpr std::size_t kMaxOutputsEnvBytes = 64 * 1024;

// The [output.NAME] tables of DMARC_REPORT_OUTPUTS (TOML text holding only such tables), for a
// configuration given by the environment alone; false after an error.
bool OutputsFromEnvironment(const EnvLookup& env, toml::table& out,
                            std::vector<std::string>& errors) {
  const char* v = env ? env("DMARC_REPORT_OUTPUTS") : nullptr;
  if (v == nullptr || *v == '\0') return true;
  const std::string_view text(v);
  if (text.size() > kMaxOutputsEnvBytes) {
    errors.push_back(
        fmt::format("DMARC_REPORT_OUTPUTS: longer than {} bytes", kMaxOutputsEnvBytes));
    return false;
  }
  try {
    const std::string_view source = "DMARC_REPORT_OUTPUTS";
    out = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    errors.push_back(fmt::format("DMARC_REPORT_OUTPUTS:{}:{}: {}", e.source().begin.line,
                                 e.source().begin.column, e.description()));
    return false;
  }
  for (const auto& [k, node] : out) {
    if (k.str() != "output") {
      errors.push_back(fmt::format(
          "DMARC_REPORT_OUTPUTS: [{}]: only [output.NAME] tables may be given here", k.str()));
      return false;
    }
  }
  return true;
}

void LoadOutputs(const toml::table& root, const EnvLookup& env,
                 std::vector<outputs::OutputTable>& out, std::vector<std::string>& errors,
                 std::vector<std::string>& secrets, std::vector<std::string>& warnings) {
  toml::table from_env;
  if (!OutputsFromEnvironment(env, from_env, errors)) return;
  std::set<std::string> names;
  const toml::table* sources[] = {&root, &from_env};
  for (const toml::table* source : sources) {
    const toml::node* n = source->get("output");
    if (!n) continue;
    const toml::table* all = n->as_table();
    const std::string origin = source == &root ? "" : "DMARC_REPORT_OUTPUTS: ";
    if (!all) {
      errors.push_back(origin + "[output]: must hold tables [output.NAME]");
      continue;
    }
    for (const auto& [k, v] : *all) {
      const std::string name(k.str());
      if (!ValidOutputName(name) || !v.is_table()) {
        errors.push_back(
            fmt::format("{}[output.{}]: must be a table named with 1..64 letters, digits, "
                        "'_' or '-'",
                        origin, name));
        continue;
      }
      if (!names.insert(name).second) {
        errors.push_back(
            fmt::format("[output.{}]: given both in the file and in DMARC_REPORT_OUTPUTS", name));
        continue;
      }
      Table t(v.as_table(), "output." + name, env, errors, secrets, warnings, true);
      outputs::OutputTable o;
      o.output.name = name;
      BindOutput(t, o);
      out.push_back(std::move(o));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.output.name < b.output.name; });
}

// Binds a table that is always there.
template <class T>
void Load(const toml::table* root, const char* name, const EnvLookup& env, T& out,
          std::vector<std::string>& errors, std::vector<std::string>& secrets,
          std::vector<std::string>& warnings) {
  Table t(root, name, env, errors, secrets, warnings);
  Bind(t, out);
  t.CheckUnknown();
}

// Binds a table that configures something only when present (in the file or the environment).
template <class T>
void LoadOptional(const toml::table* root, const char* name, const EnvLookup& env,
                  std::optional<T>& out, std::vector<std::string>& errors,
                  std::vector<std::string>& secrets, std::vector<std::string>& warnings) {
  Table t(root, name, env, errors, secrets, warnings);
  T value;
  Bind(t, value);
  t.CheckUnknown();
  if (t.present()) out = std::move(value);
}

}  // namespace

std::string EnvName(const std::string& table, const std::string& key) {
  std::string out = "DMARC_REPORT_" + table + "_" + key;
  for (char& c : out) {
    c = std::isalnum(static_cast<unsigned char>(c))
            ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
            : '_';
  }
  return out;
}

std::string GeoIpDbFromEnvironment(const EnvLookup& env) {
  const char* v = env ? env("DMARC_REPORT_GEOIP_DB") : nullptr;
  return v ? v : "";
}

std::string DefaultConfigPath(const EnvLookup& env, const std::string& system_path) {
  if (const char* v = env ? env("DMARC_REPORT_CONFIG") : nullptr) return v;
  std::error_code ec;
  if (!system_path.empty() && std::filesystem::exists(system_path, ec)) return system_path;
  return "";
}

EnvLookup ProcessEnvironment() {
  return [](const std::string& name) -> const char* { return std::getenv(name.c_str()); };
}

namespace {
// The file at path parsed into root (nothing when path is empty); a syntax error names its place.
Result<bool> ReadTomlFile(const std::string& path, toml::table& root) {
  if (path.empty()) return true;
  auto text = ReadSmallFile(path);
  if (!text) return MakeError(text.error());
  try {
    root = toml::parse(*text, path);
  } catch (const toml::parse_error& e) {
    return MakeError(fmt::format("{}:{}:{}: {}", path, e.source().begin.line,
                                 e.source().begin.column, e.description()));
  }
  return true;
}
}  // namespace

Result<StoreConfig> LoadStoreConfig(const std::string& path, const EnvLookup& env,
                                    std::vector<std::string>& secrets,
                                    std::vector<std::string>& warnings) {
  toml::table root;
  DMARC_TRY(ReadTomlFile(path, root));
  std::vector<std::string> errors;
  StoreConfig store;
  Load(&root, "store", env, store, errors, secrets, warnings);
  if (!errors.empty()) {
    std::string msg;
    const std::string name = path.empty() ? "environment" : path;
    for (const auto& e : errors) {
      if (!msg.empty()) msg += '\n';
      msg += name;
      msg += ": ";
      msg += e;
    }
    return MakeError(msg);
  }
  return store;
}

Result<std::vector<outputs::OutputTable>> LoadOutputsConfig(const std::string& path,
                                                            const EnvLookup& env,
                                                            std::vector<std::string>& secrets,
                                                            std::vector<std::string>& warnings) {
  std::vector<outputs::OutputTable> out;
  toml::table root;  // no file: the environment's outputs only
  DMARC_TRY(ReadTomlFile(path, root));
  std::vector<std::string> errors;
  LoadOutputs(root, env, out, errors, secrets, warnings);
  if (!errors.empty()) {
    std::string msg;
    const std::string name = path.empty() ? "environment" : path;
    for (const auto& e : errors) {
      if (!msg.empty()) msg += '\n';
      msg.append(name).append(": ").append(e);
    }
    return MakeError(msg);
  }
  return out;
}

Result<Config> LoadConfig(const std::string& path, const EnvLookup& env) {
  if (path.empty()) return LoadConfigText("", "", env);
  auto text = ReadSmallFile(path);
  if (!text) return MakeError(text.error());
  return LoadConfigText(*text, path, env);
}

Result<Config> LoadConfigText(const std::string& text, const std::string& name,
                              const EnvLookup& env) {
  Config config;
  config.file = name.empty() ? "environment" : name;
  toml::table root;
  if (!text.empty()) {
    // The system's toml++ is built with exceptions; a syntax error becomes a Result here.
    try {
      root = toml::parse(text, config.file);
    } catch (const toml::parse_error& e) {
      return MakeError(fmt::format("{}:{}:{}: {}", config.file, e.source().begin.line,
                                   e.source().begin.column, e.description()));
    }
  }
  static const std::set<std::string> kTables = {
      "store",     "fetch", "imap",   "pop3",   "graph",   "gmail", "maildir", "mbox",
      "directory", "log",   "consul", "enrich", "failure", "web",   "output",  "smtp"};
  std::vector<std::string> errors;
  for (const auto& [k, v] : root) {
    if (!kTables.count(std::string(k.str()))) {
      std::string expected;
      for (const auto& table : kTables) expected += (expected.empty() ? "" : ", ") + table;
      errors.push_back(fmt::format("[{}]: unknown table (expected one of: {})", k.str(), expected));
    }
  }
  auto& secrets = config.secrets;
  Load(&root, "store", env, config.store, errors, secrets, config.warnings);
  Load(&root, "fetch", env, config.fetch, errors, secrets, config.warnings);
  LoadOptional(&root, "imap", env, config.imap, errors, secrets, config.warnings);
  LoadOptional(&root, "pop3", env, config.pop3, errors, secrets, config.warnings);
  LoadOptional(&root, "graph", env, config.graph, errors, secrets, config.warnings);
  LoadOptional(&root, "gmail", env, config.gmail, errors, secrets, config.warnings);
  LoadOptional(&root, "maildir", env, config.maildir, errors, secrets, config.warnings);
  LoadOptional(&root, "mbox", env, config.mbox, errors, secrets, config.warnings);
  LoadOptional(&root, "directory", env, config.directory, errors, secrets, config.warnings);
  LoadOptional(&root, "smtp", env, config.smtp, errors, secrets, config.warnings);
  Load(&root, "log", env, config.log, errors, secrets, config.warnings);
  LoadOptional(&root, "consul", env, config.consul, errors, secrets, config.warnings);
  Load(&root, "enrich", env, config.enrich, errors, secrets, config.warnings);
  config.enrich.preferred_geoip_db = GeoIpDbFromEnvironment(env);
  Load(&root, "failure", env, config.failure, errors, secrets, config.warnings);
  Load(&root, "web", env, config.web, errors, secrets, config.warnings);
  LoadOutputs(root, env, config.outputs, errors, secrets, config.warnings);
  if (errors.empty() && !config.imap && !config.pop3 && !config.graph && !config.gmail &&
      !config.maildir && !config.mbox && !config.directory && !config.smtp) {
    errors.push_back(
        "no source configured: add at least one of [imap], [pop3], [graph], [gmail], [maildir], "
        "[mbox], "
        "[directory], [smtp]");
  }
  // A password written into the file itself is only as secret as the file.
  const std::string& path = name;  // a file name, or a label that names no file
  struct stat st {};
  if (!path.empty() && ::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH))) {
    for (const auto& [table, key] : {std::pair{"imap", "password"},
                                     {"pop3", "password"},
                                     {"store", "password"},
                                     {"imap", "client_secret"},
                                     {"graph", "client_secret"},
                                     {"gmail", "client_secret"},
                                     {"gmail", "refresh_token"}}) {
      const toml::node* t = root.get(table);
      if (t && t->is_table() && t->as_table()->contains(key)) {
        config.warnings.push_back(fmt::format(
            "{}: {}.{} is in a file other users can read; use {}.{}_file, the environment, or "
            "chmod 600 {}",
            path, table, key, table, key, path));
      }
    }
  }
  if (!errors.empty()) {
    std::string msg;
    for (const auto& e : errors) msg += (msg.empty() ? "" : "\n") + config.file + ": " + e;
    return MakeError(msg);
  }
  return config;
}

}  // namespace dmarc::config
