#include "app/parsedmarc_ini.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "base/text.h"
#include "enrich/enrich.h"
#include "sinks/json_text.h"

namespace dmarc::app {

// ---- Reading the INI file (configparser's rules) ----

namespace {

constexpr int kMaxInterpolationDepth = 10;  // configparser's MAX_INTERPOLATION_DEPTH

struct PendingOption {
  IniOption option;
  std::vector<std::string> lines;  // the first line, continuation lines, blank lines ("")
};

class IniReader {
 public:
  explicit IniReader(const std::string& name) : name_(name) {}

  Status Line(std::string_view line, int number) {
    const std::string_view value = Trim(line);
    if (value.empty() || value.front() == '#' || value.front() == ';') {
      // A blank line inside a value is kept if a continuation line follows (configparser's
      // empty_lines_in_values); a comment line changes nothing.
      if (value.empty() && option_) option_->lines.emplace_back();
      return Ok();
    }
    const std::size_t indent = line.find_first_not_of(" \t\f\v");
    if (option_ && indent > indent_) {
      option_->lines.emplace_back(value);
      return Ok();
    }
    indent_ = indent;
    Flush();
    if (value.front() == '[') return Header(value, number);
    if (!section_) return Fail(number, "an option before the first [section]");
    const std::size_t delim = value.find_first_of("=:");
    if (delim == std::string_view::npos) {
      return Fail(number, "expected \"key = value\", \"key: value\" or \"[section]\"");
    }
    std::string key = ToLowerAscii(Trim(value.substr(0, delim)));
    if (key.empty()) return Fail(number, "an option without a name");
    if (!keys_.insert(key).second) {
      return Fail(
          number,
          fmt::format("option \"{}\" of [{}] given twice (first on line {})", EscapeControls(key),
                      EscapeControls(file_.sections[*section_].name), FirstLine(key)));
    }
    option_ =
        PendingOption{{std::move(key), "", number}, {std::string(Trim(value.substr(delim + 1)))}};
    return Ok();
  }

  IniFile Finish() {
    Flush();
    return std::move(file_);
  }

 private:
  Status Header(std::string_view value, int number) {
    const std::size_t close = value.rfind(']');
    if (close == std::string_view::npos || close < 2) {
      return Fail(number, "a section header must be \"[name]\"");
    }
    std::string name(value.substr(1, close - 1));
    for (auto& s : file_.sections) {
      if (s.name == name && name != "DEFAULT") {
        return Fail(number, fmt::format("section [{}] given twice (first on line {})",
                                        EscapeControls(name), s.line));
      }
    }
    keys_.clear();
    if (name == "DEFAULT") {
      for (std::size_t i = 0; i < file_.sections.size(); ++i) {
        if (file_.sections[i].name == name) {
          section_ = i;
          for (const auto& o : file_.sections[i].options) keys_.insert(o.key);
          return Ok();
        }
      }
    }
    file_.sections.push_back(IniSection{std::move(name), number, {}});
    section_ = file_.sections.size() - 1;
    return Ok();
  }

  int FirstLine(const std::string& key) const {
    if (option_ && option_->option.key == key) return option_->option.line;
    for (const auto& o : file_.sections[*section_].options) {
      if (o.key == key) return o.line;
    }
    return 0;
  }

  void Flush() {
    if (!option_) return;
    std::string value;
    for (std::size_t i = 0; i < option_->lines.size(); ++i) {
      if (i) value += '\n';
      value += option_->lines[i];
    }
    while (!value.empty() && value.back() == '\n') value.pop_back();
    option_->option.value = std::move(value);
    file_.sections[*section_].options.push_back(std::move(option_->option));
    option_.reset();
  }

  Status Fail(int number, const std::string& what) const {
    return MakeError(fmt::format("{}:{}: {}", name_, number, what));
  }

  const std::string& name_;
  IniFile file_;
  std::optional<std::size_t> section_;  // the current one, in file_.sections
  std::set<std::string> keys_;          // of the current section
  std::optional<PendingOption> option_;
  std::size_t indent_ = 0;
};

// BasicInterpolation: "%%" is "%", "%(name)s" the (raw) value of name in the same section or
// [DEFAULT], itself interpolated, at most kMaxInterpolationDepth deep.
Status Interpolate(std::string_view rest, const IniSection& section, const IniSection* defaults,
                   int depth, std::string& out) {
  if (depth > kMaxInterpolationDepth) return MakeError("interpolation nested too deep");
  while (!rest.empty()) {
    const std::size_t p = rest.find('%');
    out.append(rest.substr(0, p));
    if (p == std::string_view::npos) break;
    rest.remove_prefix(p);
    if (rest.starts_with("%%")) {
      out += '%';
      rest.remove_prefix(2);
    } else if (rest.starts_with("%(")) {
      const std::size_t close = rest.find(")s");
      if (close == std::string_view::npos || close == 2 ||
          rest.substr(2, close - 2).find(')') != std::string_view::npos) {
        return MakeError("bad interpolation reference (write a literal % as %%)");
      }
      const std::string var = ToLowerAscii(rest.substr(2, close - 2));
      rest.remove_prefix(close + 2);
      const IniOption* found = nullptr;
      for (const IniSection* s : {&section, defaults}) {
        if (!s || found) continue;
        for (const auto& o : s->options) {
          if (o.key == var) found = &o;
        }
      }
      if (!found) {
        return MakeError(fmt::format("%({})s names no option of this section or [DEFAULT]",
                                     EscapeControls(var)));
      }
      if (auto st = Interpolate(found->value, section, defaults, depth + 1, out); !st) return st;
    } else {
      return MakeError("'%' must be followed by '%' or '(' (write a literal % as %%)");
    }
    if (out.size() > kMaxIniValueBytes) return MakeError("value longer than 64 KiB");
  }
  return Ok();
}

Status InterpolateAll(IniFile& file, const std::string& name) {
  const IniSection* defaults = nullptr;
  for (const auto& s : file.sections) {
    if (s.name == "DEFAULT") defaults = &s;
  }
  // Interpolated from the raw values: the results go into a copy.
  std::vector<IniSection> done = file.sections;
  for (std::size_t i = 0; i < file.sections.size(); ++i) {
    for (std::size_t j = 0; j < file.sections[i].options.size(); ++j) {
      const IniOption& o = file.sections[i].options[j];
      std::string out;
      if (auto st = Interpolate(o.value, file.sections[i], defaults, 0, out); !st) {
        return MakeError(fmt::format("{}:{}: [{}] {}: {}", name, o.line,
                                     EscapeControls(file.sections[i].name), EscapeControls(o.key),
                                     st.error()));
      }
      done[i].options[j].value = std::move(out);
    }
  }
  file.sections = std::move(done);
  return Ok();
}

}  // namespace

Result<IniFile> ParseIni(std::string_view text, const std::string& name) {
  if (text.size() > kMaxIniBytes) return MakeError(fmt::format("{}: larger than 1 MiB", name));
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // a UTF-8 byte order mark
  IniReader reader(name);
  int number = 0;
  std::size_t sections = 0;
  while (!text.empty()) {
    ++number;
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.size() > kMaxIniLineBytes) {
      return MakeError(
          fmt::format("{}:{}: line longer than {} bytes", name, number, kMaxIniLineBytes));
    }
    if (!IsValidUtf8(line) || line.find('\0') != std::string_view::npos) {
      return MakeError(fmt::format("{}:{}: not UTF-8 text", name, number));
    }
    if (Trim(line).starts_with('[') && ++sections > 1000) {
      return MakeError(fmt::format("{}:{}: more than 1000 sections", name, number));
    }
    if (auto st = reader.Line(line, number); !st) return std::move(st).error_value();
  }
  IniFile file = reader.Finish();
  if (auto st = InterpolateAll(file, name); !st) return std::move(st).error_value();
  return file;
}

std::optional<bool> ParseIniBool(std::string_view value) {
  const std::string v = ToLowerAscii(value);
  if (v == "1" || v == "yes" || v == "true" || v == "on") return true;
  if (v == "0" || v == "no" || v == "false" || v == "off") return false;
  return std::nullopt;
}

std::string TomlString(std::string_view s) {
  // A TOML basic string takes JSON's escapes; DEL, which a JSON string may hold as it is, TOML
  // wants escaped.
  std::string json;
  sinks::AppendJsonString(json, s);
  std::string out;
  out.reserve(json.size());
  for (const char ch : json) {
    if (ch == '\x7F') {
      out += "\\u007F";
    } else {
      out += ch;
    }
  }
  return out;
}

// ---- Converting parsedmarc's options to dmarc-report's TOML ----

namespace {

constexpr const char* kStateDir = "/var/lib/dmarc-report";

// The parsedmarc options that map onto no key, with the reason written beside them; `warn`: the
// behaviour is lost (a warning on standard error), otherwise dmarc-report already behaves so.
struct NotConverted {
  const char* section;
  const char* key;  // nullptr: every option of the section
  const char* reason;
  bool warn;
};

constexpr const char* kExportHint =
    "no equivalent: reports are kept in the store; write parsedmarc's JSON/CSV files with "
    "`dmarc-report export --format json|csv --type aggregate|failure|smtp_tls -o FILE` "
    "(docs/migrating-from-parsedmarc.md)";

constexpr NotConverted kNotConverted[] = {
    {"general", "output", kExportHint, true},
    {"general", "aggregate_json_filename", kExportHint, true},
    {"general", "forensic_json_filename", kExportHint, true},
    {"general", "smtp_tls_json_filename", kExportHint, true},
    {"general", "aggregate_csv_filename", kExportHint, true},
    {"general", "forensic_csv_filename", kExportHint, true},
    {"general", "smtp_tls_csv_filename", kExportHint, true},
    {"general", "index_prefix_domain_map",
     "no equivalent: dmarc-report writes no Elasticsearch/OpenSearch indexes", true},
    {"general", "dns_test_address",
     "not needed: there is no DNS pre-flight check; a silent nameserver is detected within "
     "seconds and the run goes on without names ([enrich])",
     false},
    {"general", "always_use_local_files",
     "not needed: dmarc-report downloads nothing; its map of sending services is built in", false},
    {"general", "local_reverse_dns_map_path",
     "no equivalent: the map of sending services is built in; add entries with [enrich] "
     "services_file (KEY<TAB>NAME<TAB>TYPE lines; parsedmarc's CSV is not read)",
     true},
    {"general", "reverse_dns_map_path",
     "no equivalent: the map of sending services is built in; add entries with [enrich] "
     "services_file (KEY<TAB>NAME<TAB>TYPE lines; parsedmarc's CSV is not read)",
     true},
    {"general", "reverse_dns_map_url",
     "no equivalent: dmarc-report downloads nothing; add entries to its built-in map of sending "
     "services with [enrich] services_file",
     true},
    {"mailbox", "since",
     "no equivalent: every message in the folder is read (and then archived, moved or deleted)",
     true},
    {"imap", "max_retries",
     "not needed: dmarc-report reconnects until it succeeds, waiting longer each time up to "
     "[fetch] max_backoff",
     false},
    {"imap", "delete",
     "not converted: parsedmarc ignores delete in [imap] (only [mailbox] delete counts)", true},
    {"maildir", "maildir_create",
     "no equivalent: the Maildir is not created; create it (cur/, new/, tmp/) before the first "
     "run",
     true},
    {"msgraph", nullptr,
     "no equivalent (yet): not converted; write a [graph] table by hand (client credentials: "
     "tenant_id, client_id, client_secret_file, mailbox, folder; see the README), or use IMAP "
     "with [imap]",
     true},
    {"gmail_api", nullptr,
     "not converted; write a [gmail] table by hand (user, and client_id, client_secret_file "
     "and refresh_token_file from parsedmarc's credentials_file and token_file, or a service "
     "account's service_account_file; label, query; see the README), or use Gmail's IMAP in "
     "[imap]",
     true},
    {"elasticsearch", nullptr,
     "no equivalent (yet): no Elasticsearch output; the built-in dashboard replaces Kibana, and "
     "`dmarc-report export` writes parsedmarc's JSON for a loader of your own",
     true},
    {"opensearch", nullptr,
     "no equivalent (yet): no OpenSearch output; the built-in dashboard replaces OpenSearch "
     "Dashboards, and `dmarc-report export` writes parsedmarc's JSON for a loader of your own",
     true},
    {"splunk_hec", nullptr,
     "no equivalent (yet): no Splunk HEC output; `dmarc-report export` writes parsedmarc's JSON "
     "for a Splunk file input",
     true},
    {"kafka", nullptr, "no equivalent (yet): no Kafka output", true},
    {"s3", nullptr,
     "no equivalent: no S3 upload; upload the files of `dmarc-report export` with a tool of "
     "your own",
     true},
    {"syslog", nullptr,
     "no equivalent: reports are not sent to syslog ([log] syslog sends dmarc-report's own log "
     "lines, not reports)",
     true},
    {"gelf", nullptr, "no equivalent: no GELF output", true},
    {"webhook", nullptr, "no equivalent: no webhook output", true},
    {"log_analytics", nullptr, "no equivalent: no Azure Log Analytics output", true},
    {"smtp", nullptr,
     "no equivalent: results are not mailed; `dmarc-report report` writes a self-contained HTML "
     "report to send yourself",
     true},
    {"DEFAULT", nullptr,
     "not converted: parsedmarc reads [DEFAULT] options in every section; repeat the option in "
     "the section it is meant for",
     true},
};

// The parsedmarc sections this converter knows; any other is reported as unknown.
const std::set<std::string>& KnownSections() {
  static const std::set<std::string> known = [] {
    std::set<std::string> s = {"general", "mailbox", "imap", "maildir"};
    for (const auto& n : kNotConverted) s.insert(n.section);
    return s;
  }();
  return known;
}

// A name from the file, for a comment or a warning: control characters escaped, bounded.
std::string Shown(std::string_view s) {
  std::string out = EscapeControls(s.substr(0, std::min<std::size_t>(s.size(), 80)));
  if (s.size() > 80) out += "...";
  return out;
}

struct TomlLine {
  std::string key;      // empty: a comment line
  std::string value;    // a TOML literal
  std::string comment;  // the parsedmarc option it came from, or the comment line's text
};

struct Unconverted {
  std::string label;  // "[section] key"
  int line = 0;       // 0: several lines, or none
  std::string reason;
};

// A value of a [mailbox] setting and where it came from ("[mailbox] watch").
struct Setting {
  std::string value;  // a TOML literal
  std::string origin;
};

class Converter {
 public:
  Converter(std::string name, ConvertOptions options)
      : name_(std::move(name)), options_(std::move(options)) {}

  Result<ParsedmarcConversion> Run(const IniFile& ini) {
    for (const auto& section : ini.sections) {
      if (section.options.empty() && !KnownSections().count(section.name)) {
        Skip(section.name, "", section.line, "unknown parsedmarc section; not converted", true);
      }
      for (const auto& o : section.options) Option(section.name, o);
      if (section.name == "imap") has_imap_ = true;
      if (section.name == "maildir") has_maildir_ = true;
    }
    if (!errors_.empty()) {
      std::string msg;
      for (const auto& e : errors_) msg += (msg.empty() ? "" : "\n") + e;
      return MakeError(msg);
    }
    Finish();
    return ParsedmarcConversion{Render(), std::move(warnings_)};
  }

 private:
  void Option(const std::string& section, const IniOption& o) {
    if (section == "general" && General(o)) return;
    if (section == "mailbox" && MailboxOption(o, 0)) return;
    if (section == "imap" && (Imap(o) || MailboxOption(o, 1))) return;
    if (section == "maildir" && o.key == "maildir_path") {
      return Set("maildir", "path", TomlString(o.value), Origin(section, o));
    }
    for (const auto& n : kNotConverted) {
      if (section == n.section && (!n.key || o.key == n.key)) {
        return Skip(section, o.key, o.line, n.reason, n.warn);
      }
    }
    Skip(section, o.key, o.line,
         KnownSections().count(section) ? "unknown parsedmarc option; not converted"
                                        : "unknown parsedmarc section; not converted",
         true);
  }

  bool General(const IniOption& o);
  bool Imap(const IniOption& o);
  bool MailboxOption(const IniOption& o, int priority);
  void Nameservers(const IniOption& o);
  void Finish();
  void FinishLog();
  void FinishFailure();
  void FinishMailbox();
  std::string Render() const;

  static std::string Origin(const std::string& section, const IniOption& o) {
    return fmt::format("[{}] {} (line {})", Shown(section), Shown(o.key), o.line);
  }

  void Set(const std::string& table, const std::string& key, std::string literal,
           std::string origin) {
    auto& lines = tables_[table];
    for (auto& l : lines) {
      if (l.key == key) {
        l = {key, std::move(literal), std::move(origin)};
        return;
      }
    }
    lines.push_back({key, std::move(literal), std::move(origin)});
  }

  void Comment(const std::string& table, std::string text) {
    tables_[table].push_back({"", "", std::move(text)});
  }

  void Skip(const std::string& section, const std::string& key, int line, const std::string& reason,
            bool warn) {
    unconverted_.push_back({Label(section, key), line, reason});
    if (warn) Warn(section, key, line, reason);
  }

  static std::string Label(const std::string& section, const std::string& key) {
    return fmt::format("[{}]{}{}", Shown(section), key.empty() ? "" : " ", Shown(key));
  }

  void Warn(const std::string& section, const std::string& key, int line, const std::string& what) {
    warnings_.push_back(fmt::format("{}:{}: {}: {}", name_, line, Label(section, key), what));
  }

  // A setting of Finish's, whose origin names its option (and line).
  void SkipSetting(const Setting& s, const std::string& reason) {
    unconverted_.push_back({s.origin, 0, reason});
    warnings_.push_back(fmt::format("{}: {}: {}", name_, s.origin, reason));
  }

  void Fail(const std::string& section, const IniOption& o, const std::string& expected) {
    errors_.push_back(fmt::format("{}:{}: [{}] {}: must be {}, not \"{}\"", name_, o.line,
                                  Shown(section), Shown(o.key), expected, Shown(o.value)));
  }

  std::optional<bool> Bool(const std::string& section, const IniOption& o) {
    auto b = ParseIniBool(o.value);
    if (!b) Fail(section, o, "true or false (yes/no, on/off, 1/0)");
    return b;
  }

  std::optional<std::int64_t> Int(const std::string& section, const IniOption& o, std::int64_t min,
                                  std::int64_t max) {
    auto v = ParseSigned(o.value);
    if (!v || *v < min || *v > max) {
      Fail(section, o, fmt::format("an integer {}..{}", min, max));
      return std::nullopt;
    }
    return v;
  }

  // A number of seconds (parsedmarc reads a float), as a positive number within max.
  std::optional<double> Seconds(const std::string& section, const IniOption& o, double max) {
    const std::string text(Trim(o.value));
    char* end = nullptr;
    errno = 0;
    const double v = text.empty() ? 0 : std::strtod(text.c_str(), &end);
    if (text.empty() || errno || *end || !std::isfinite(v) || v <= 0 || v > max) {
      Fail(section, o, fmt::format("a number of seconds, more than 0 and at most {}", max));
      return std::nullopt;
    }
    return v;
  }

  std::string name_;
  ConvertOptions options_;
  std::map<std::string, std::vector<TomlLine>> tables_;
  std::vector<Unconverted> unconverted_;
  std::vector<std::string> warnings_;
  std::vector<std::string> errors_;
  std::map<std::string, std::pair<bool, std::string>> log_flags_;  // debug, verbose, ...: value
  std::optional<std::pair<bool, int>> save_forensic_, strip_payloads_;  // value, line
  std::map<std::string, Setting> mailbox_[2];  // [mailbox], then [imap]'s deprecated ones
  bool has_imap_ = false;
  bool has_maildir_ = false;
};

bool Converter::General(const IniOption& o) {
  const std::string& k = o.key;
  const std::string origin = Origin("general", o);
  if (k == "save_aggregate" || k == "save_smtp_tls") {
    if (auto b = Bool("general", o)) {
      const char* what = k == "save_aggregate" ? "aggregate" : "SMTP TLS";
      Skip("general", k, o.line,
           *b ? fmt::format("not needed: every {} report read is stored", what)
              : fmt::format("no equivalent: every {} report read is stored; they cannot be left "
                            "out",
                            what),
           !*b);
    }
  } else if (k == "save_forensic" || k == "strip_attachment_payloads") {
    if (auto b = Bool("general", o)) {
      (k == "save_forensic" ? save_forensic_ : strip_payloads_) = std::pair{*b, o.line};
    }
  } else if (k == "silent" || k == "warnings" || k == "verbose" || k == "debug") {
    if (auto b = Bool("general", o)) log_flags_[k] = {*b, origin};
  } else if (k == "log_file") {
    Set("log", "file", TomlString(o.value), origin);
  } else if (k == "n_procs") {
    if (auto n = Int("general", o, 1, 256)) Set("fetch", "jobs", std::to_string(*n), origin);
  } else if (k == "ip_db_path") {
    Set("enrich", "geoip_db", fmt::format("[{}]", TomlString(o.value)), origin);
  } else if (k == "offline") {
    if (auto b = Bool("general", o)) Set("enrich", "offline", *b ? "true" : "false", origin);
  } else if (k == "nameservers") {
    Nameservers(o);
  } else if (k == "dns_timeout") {
    if (auto s = Seconds("general", o, 60)) {
      Set("enrich", "dns_timeout_ms", std::to_string(std::max(1L, std::lround(*s * 1000))), origin);
    }
  } else if (k == "prettify_json") {
    if (auto b = Bool("general", o)) {
      Skip("general", k, o.line,
           *b ? "not needed: `dmarc-report export` writes indented JSON, as parsedmarc does"
              : "no equivalent: `dmarc-report export` always writes indented JSON",
           !*b);
    }
  } else {
    return false;
  }
  return true;
}

// parsedmarc's comma-separated list; each must be an address (dmarc-report asks nameservers by
// address: IP, IP:PORT or [IPv6]:PORT).
void Converter::Nameservers(const IniOption& o) {
  std::string list;
  for (std::size_t start = 0; start <= o.value.size();) {
    std::size_t comma = o.value.find(',', start);
    if (comma == std::string::npos) comma = o.value.size();
    const std::string_view item = Trim(std::string_view(o.value).substr(start, comma - start));
    start = comma + 1;
    if (item.empty()) continue;
    if (auto n = enrich::NormalizeNameserver(item); !n) {
      Warn("general", o.key, o.line,
           fmt::format("\"{}\" left out: {}", Shown(item), Shown(n.error())));
      continue;
    }
    list += (list.empty() ? "" : ", ") + TomlString(item);
  }
  if (list.empty()) {
    Skip("general", o.key, o.line, "no nameserver address to convert; the system's are used",
         false);
    return;
  }
  Set("enrich", "nameservers", fmt::format("[{}]", list), Origin("general", o));
}

bool Converter::Imap(const IniOption& o) {
  const std::string& k = o.key;
  const std::string origin = Origin("imap", o);
  if (k == "host" || k == "user") {
    Set("imap", k, TomlString(o.value), origin);
  } else if (k == "port") {
    if (auto p = Int("imap", o, 1, 65535)) Set("imap", "port", std::to_string(*p), origin);
  } else if (k == "ssl") {
    if (auto b = Bool("imap", o); b && *b) {
      Set("imap", "tls", TomlString("tls"), origin);
    } else if (b) {
      Set("imap", "tls", TomlString("starttls"), origin + " = false");
      Warn("imap", k, o.line,
           "converted to tls = \"starttls\" (port 143 unless port is set); set tls = \"none\" "
           "only for a plain-text connection you trust");
    }
  } else if (k == "skip_certificate_verification") {
    if (auto b = Bool("imap", o)) Set("imap", "verify_tls", *b ? "false" : "true", origin);
  } else if (k == "password") {
    const std::string file = options_.secrets_dir + "/imap-password";
    Set("imap", "password_file", TomlString(file), origin + " (not copied)");
    Comment("imap", fmt::format("The password is not copied from {}: create the file with "
                                "`install -m 600 /dev/stdin {}` (type it, then Ctrl-D)",
                                EscapeControls(name_), EscapeControls(file)));
    Warn("imap", k, o.line,
         fmt::format("not copied; write it into {} (mode 600, readable by the service only)",
                     EscapeControls(file)));
  } else if (k == "timeout") {
    if (auto s = Seconds("imap", o, 3600)) {
      Set("imap", "timeout", std::to_string(static_cast<int>(std::ceil(*s))), origin);
    }
  } else {
    return false;
  }
  return true;
}

// The options of [mailbox] (priority 0) and their deprecated forms in [imap] (priority 1, which
// parsedmarc reads after [mailbox]): kept until Finish, when the mail sources are known.
bool Converter::MailboxOption(const IniOption& o, int priority) {
  const std::string& k = o.key;
  const std::string section = priority ? "imap" : "mailbox";
  const std::string origin = Origin(section, o);
  auto& m = mailbox_[priority];
  if (k == "reports_folder" || k == "archive_folder") {
    m[k] = {TomlString(o.value), origin};
  } else if (k == "watch" || k == "delete" || k == "test") {
    if (k == "delete" && priority) return false;  // parsedmarc ignores it there
    if (auto b = Bool(section, o)) m[k] = {*b ? "true" : "false", origin};
  } else if (k == "batch_size") {
    if (auto n = Int(section, o, 0, 1'000'000)) {
      if (*n == 0 || *n > 10000) {
        m[k] = {"10000", origin + (*n ? " (at most 10000)" : " = 0, no limit (at most 10000)")};
      } else {
        m[k] = {std::to_string(*n), origin};
      }
    }
  } else if (k == "check_timeout" && !priority) {
    if (auto n = Int(section, o, 1, 86400)) m[k] = {std::to_string(*n), origin};
  } else {
    return false;
  }
  return true;
}

void Converter::Finish() {
  Set("store", "url", TomlString(fmt::format("sqlite:{}/dmarc-report.db", kStateDir)), "");
  FinishMailbox();
  FinishFailure();
  FinishLog();
  if (!has_imap_ && !has_maildir_) {
    Set("directory", "path", TomlString(fmt::format("{}/inbox", kStateDir)), "");
    Comment("directory",
            "parsedmarc read no mailbox (or one dmarc-report cannot read): report files and mails "
            "dropped into this folder are stored; older ones: `dmarc-report import`");
    warnings_.push_back(fmt::format(
        "{}: no [imap] or [maildir] mailbox to convert; the TOML reads the drop folder {}/inbox "
        "instead (change [directory] or add [imap])",
        name_, kStateDir));
  }
}

void Converter::FinishMailbox() {
  std::map<std::string, Setting> m = mailbox_[0];
  for (const auto& [k, v] : mailbox_[1]) m[k] = v;
  const bool any_source = has_imap_ || has_maildir_;
  auto take = [&](const char* key) -> std::optional<Setting> {
    auto it = m.find(key);
    if (it == m.end()) return std::nullopt;
    Setting s = it->second;
    m.erase(it);
    return s;
  };
  std::optional<Setting> after;
  auto test = take("test");
  auto del = take("delete");
  if (test && test->value == "true") {
    after = Setting{TomlString("keep"), test->origin};
  } else if (del && del->value == "true") {
    after = Setting{TomlString("delete"), del->origin};
  } else if (test || del) {
    after = Setting{TomlString("archive"), (test ? test : del)->origin};
  }
  if (after && test && del) after->origin = test->origin + ", " + del->origin;
  auto archive = take("archive_folder");
  if (has_imap_) {
    if (auto s = take("reports_folder")) Set("imap", "folder", s->value, s->origin);
    if (archive) Set("imap", "archive_folder", archive->value, archive->origin);
    if (after) Set("imap", "after", after->value, after->origin);
    if (auto s = take("batch_size")) Set("imap", "batch_size", s->value, s->origin);
    if (auto s = take("watch"); s && s->value == "true") {
      Set("imap", "idle", "true", s->origin);
    } else if (s) {
      SkipSetting(*s,
                  "= false: parsedmarc read the folder once and exited; `dmarc-report fetch "
                  "--config FILE` does that, `dmarc-report run` keeps watching");
    }
  }
  if (any_source) {
    if (auto s = take("check_timeout")) Set("fetch", "watch_interval", s->value, s->origin);
  }
  if (has_maildir_) {
    if (after) Set("maildir", "after", after->value, after->origin);
    if (archive && archive->value.find('/') == std::string::npos) {
      Set("maildir", "archive_folder", archive->value, archive->origin);
    } else if (archive && !has_imap_) {
      SkipSetting(*archive, "not converted: a Maildir's archive_folder is one name without '/'");
    }
    if (auto s = take("watch")) {
      unconverted_.push_back({s->origin, 0, "not needed: `run` watches every source"});
    }
  }
  if (!any_source) {
    if (archive) SkipSetting(*archive, "not converted: no [imap] or [maildir] it applies to");
    if (after) SkipSetting(*after, "not converted: no [imap] or [maildir] it applies to");
  }
  for (const auto& [k, v] : m) {
    SkipSetting(v, "not converted: no [imap] mailbox it applies to");
  }
}

void Converter::FinishFailure() {
  if (save_forensic_ && !save_forensic_->first) {
    Set("failure", "keep_sample", TomlString("none"),
        fmt::format("[general] save_forensic (line {}) = false", save_forensic_->second));
    Warn("general", "save_forensic", save_forensic_->second,
         "failure reports are still stored, without the sample of the reported message "
         "([failure] keep_sample = \"none\")");
  } else if (strip_payloads_) {
    Set("failure", "keep_sample", TomlString(strip_payloads_->first ? "headers" : "full"),
        fmt::format("[general] strip_attachment_payloads (line {}) = {}", strip_payloads_->second,
                    strip_payloads_->first ? "true (only the header block is kept)" : "false"));
  }
  if (strip_payloads_ && save_forensic_ && !save_forensic_->first) {
    unconverted_.push_back({Label("general", "strip_attachment_payloads"), strip_payloads_->second,
                            "not needed: save_forensic = false keeps no sample at all"});
  }
  if (save_forensic_ && save_forensic_->first) {
    unconverted_.push_back({Label("general", "save_forensic"), save_forensic_->second,
                            "not needed: every failure report read is stored"});
  }
}

// parsedmarc logs errors only, warnings too with `warnings`, more with `verbose`, everything
// with `debug`; `silent = false` also prints every report on standard output.
void Converter::FinishLog() {
  auto on = [&](const char* k) {
    auto it = log_flags_.find(k);
    return it != log_flags_.end() && it->second.first;
  };
  std::string used;
  for (const char* k : {"debug", "verbose", "warnings", "silent"}) {
    if (!on(k)) continue;
    const std::string_view key = k;
    const char* level = key == "debug"      ? "debug"
                        : key == "verbose"  ? "info"
                        : key == "warnings" ? "warning"
                                            : "error";
    Set("log", "level", TomlString(level), log_flags_[k].second);
    used = k;
    break;
  }
  for (const auto& [k, v] : log_flags_) {
    if (k == used) continue;
    if (k == "silent" && !v.first) {
      SkipSetting({"false", v.second},
                  "= false: reports are not printed on standard output as they are stored; "
                  "`dmarc-report export` prints them");
    } else {
      unconverted_.push_back({v.second, 0,
                              v.first ? "not needed: a more verbose option sets [log] level"
                                      : "not needed: false (the log level is [log] level)"});
    }
  }
}

std::string Converter::Render() const {
  std::string out = fmt::format(
      "# dmarc-report configuration converted from the parsedmarc file {}\n"
      "# by `dmarc-report check-config --from-parsedmarc`. Check it with:\n"
      "#   dmarc-report check-config FILE\n"
      "# The comment after a key names the parsedmarc option it comes from; the options with no\n"
      "# equivalent are listed at the end. docs/migrating-from-parsedmarc.md explains each.\n",
      EscapeControls(name_));
  for (const char* table :
       {"store", "imap", "maildir", "directory", "fetch", "enrich", "failure", "log"}) {
    auto it = tables_.find(table);
    if (it == tables_.end()) continue;
    out += fmt::format("\n[{}]\n", table);
    if (std::string_view(table) == "store") {
      out += "# parsedmarc kept no store of its own; dmarc-report keeps every report here\n";
    }
    for (const auto& l : it->second) {
      if (l.key.empty()) {
        out += "# " + l.comment + "\n";
      } else {
        out += l.key + " = " + l.value + (l.comment.empty() ? "" : "  # " + l.comment) + "\n";
      }
    }
  }
  out +=
      "\n# The dashboard (replacing Kibana, Grafana or Splunk dashboards) is served on\n"
      "# http://127.0.0.1:8080 ([web] listen; beyond loopback it needs token_file or "
      "users_file).\n";
  if (!unconverted_.empty()) {
    out += "\n# ---- parsedmarc options not converted ----\n";
    for (const auto& u : unconverted_) {
      out += fmt::format("# {}{}: {}\n", u.label, u.line ? fmt::format(" (line {})", u.line) : "",
                         u.reason);
    }
  }
  return out;
}

}  // namespace

Result<ParsedmarcConversion> ConvertParsedmarcIni(std::string_view text, const std::string& name,
                                                  const ConvertOptions& options) {
  auto ini = ParseIni(text, name);
  if (!ini) return std::move(ini).error_value();
  return Converter(name, options).Run(*ini);
}

Result<ParsedmarcConversion> ConvertParsedmarcIniFile(const std::string& path,
                                                      const ConvertOptions& options) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return MakeError(fmt::format("cannot read {}: a directory", path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  std::string data(kMaxIniBytes + 1, '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  if (in.bad()) return MakeError(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  data.resize(static_cast<std::size_t>(in.gcount()));
  return ConvertParsedmarcIni(data, path, options);
}

int RunFromParsedmarc(const std::string& ini, const ConvertOptions& options) {
  auto converted = ConvertParsedmarcIniFile(ini, options);
  if (!converted) {
    fmt::print(stderr, "{}\n", converted.error());
    return 1;
  }
  fmt::print("{}", converted->toml);
  std::fflush(stdout);
  for (const auto& w : converted->warnings) fmt::print(stderr, "warning: {}\n", w);
  return 0;
}

}  // namespace dmarc::app
