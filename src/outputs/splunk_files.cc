#include "outputs/splunk_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_set>
#include <utility>
#include <vector>

#include "outputs/options.h"
#include "sinks/json_text.h"

namespace dmarc::outputs {
namespace {

namespace fs = std::filesystem;

// A kv value between double quotes: quote and backslash escaped, control characters (a line
// break would let a value forge a "RUA BEGIN" event) as spaces.
void AppendKv(std::string& out, std::string_view key, std::string_view value, bool last = false) {
  out.append(key);
  out += "=\"";
  for (const char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += ' ';
    } else {
      out += c;
    }
  }
  out += last ? "\"\n" : "\",\n";
}

void AppendKvRecord(std::string& out, const model::AggregateReport& r, const model::Record& rec) {
  const auto& m = r.report_metadata;
  const auto& p = r.policy_published;
  out += "RUA BEGIN\n";
  AppendKv(out, "rpt_metadata_org_name", m.org_name);
  AppendKv(out, "rpt_metadata_email", m.org_email);
  AppendKv(out, "rpt_metadata_extra_contact_info", m.org_extra_contact_info.value_or(""));
  AppendKv(out, "rpt_metadata_report_id", m.report_id);
  AppendKv(out, "rpt_metadata_date_range_begin", std::to_string(m.begin));
  AppendKv(out, "rpt_metadata_date_range_end", std::to_string(m.end));
  AppendKv(out, "policy_published_domain", p.domain);
  AppendKv(out, "policy_published_adkim", p.adkim);
  AppendKv(out, "policy_published_aspf", p.aspf);
  AppendKv(out, "policy_published_p", p.p);
  AppendKv(out, "policy_published_sp", p.sp);
  AppendKv(out, "policy_published_pct", p.pct.value_or(""));
  AppendKv(out, "row_source_ip", rec.source.ip_address);
  if (rec.source.reverse_dns) AppendKv(out, "row_source_hostname", *rec.source.reverse_dns);
  AppendKv(out, "row_count", std::to_string(rec.count));
  AppendKv(out, "row_policy_evaluated_disposition", rec.policy_evaluated.disposition);
  AppendKv(out, "row_policy_evaluated_dkim", rec.policy_evaluated.dkim);
  AppendKv(out, "row_policy_evaluated_spf", rec.policy_evaluated.spf);
  AppendKv(out, "identifiers_header_from", rec.identifiers.header_from);
  for (const auto& d : rec.dkim) {
    AppendKv(out, "auth_result_dkim_domain", d.domain);
    AppendKv(out, "auth_result_dkim_result", d.result);
    AppendKv(out, "auth_result_dkim_human_result", d.human_result.value_or(""));
  }
  for (const auto& s : rec.spf) {
    AppendKv(out, "auth_result_spf_domain", s.domain);
    AppendKv(out, "auth_result_spf_result", s.result);
  }
  AppendKv(out, "vendor_rua_xsd_validation", "unknown", true);
}

void AppendJsonMember(std::string& out, std::string_view key, std::string_view value) {
  sinks::AppendJsonString(out, key);
  out += ':';
  sinks::AppendJsonString(out, value);
}

// `"key": {...}` for one result, `"key": [{...}, ...]` for several (the XML's shape as the app
// reads it).
template <class T, class F>
void AppendOneOrList(std::string& out, std::string_view key, const std::vector<T>& v, F object) {
  sinks::AppendJsonString(out, key);
  out += v.size() == 1 ? ":" : ":[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += ',';
    object(v[i]);
  }
  if (v.size() != 1) out += ']';
}

void AppendJsonAuthResults(std::string& out, const model::Record& rec) {
  out += "\"auth_results\":{";
  if (!rec.dkim.empty()) {
    AppendOneOrList(out, "dkim", rec.dkim, [&out](const model::DkimAuthResult& d) {
      out += '{';
      AppendJsonMember(out, "domain", d.domain);
      out += ',';
      AppendJsonMember(out, "selector", d.selector);
      out += ',';
      AppendJsonMember(out, "result", d.result);
      if (d.human_result) {
        out += ',';
        AppendJsonMember(out, "human_result", *d.human_result);
      }
      out += '}';
    });
    if (!rec.spf.empty()) out += ',';
  }
  if (!rec.spf.empty()) {
    AppendOneOrList(out, "spf", rec.spf, [&out](const model::SpfAuthResult& s) {
      out += '{';
      AppendJsonMember(out, "domain", s.domain);
      out += ',';
      AppendJsonMember(out, "scope", s.scope);
      out += ',';
      AppendJsonMember(out, "result", s.result);
      out += '}';
    });
  }
  out += '}';
}

// {"feedback":[{"report_metadata":{...}},{"policy_published":{...}},{"record":{...}}],...}
std::string JsonHead(const model::AggregateReport& r) {
  const auto& m = r.report_metadata;
  const auto& p = r.policy_published;
  std::string out = "{\"feedback\":[{\"report_metadata\":{";
  AppendJsonMember(out, "org_name", m.org_name);
  out += ',';
  AppendJsonMember(out, "email", m.org_email);
  if (m.org_extra_contact_info) {
    out += ',';
    AppendJsonMember(out, "extra_contact_info", *m.org_extra_contact_info);
  }
  out += ',';
  AppendJsonMember(out, "report_id", m.report_id);
  out += ",\"date_range\":{";
  AppendJsonMember(out, "begin", std::to_string(m.begin));
  out += ',';
  AppendJsonMember(out, "end", std::to_string(m.end));
  out += "}}},{\"policy_published\":{";
  AppendJsonMember(out, "domain", p.domain);
  out += ',';
  AppendJsonMember(out, "adkim", p.adkim);
  out += ',';
  AppendJsonMember(out, "aspf", p.aspf);
  out += ',';
  AppendJsonMember(out, "p", p.p);
  out += ',';
  AppendJsonMember(out, "sp", p.sp);
  if (p.pct) {
    out += ',';
    AppendJsonMember(out, "pct", *p.pct);
  }
  out += "}},";
  return out;
}

void AppendJsonRecord(std::string& out, const std::string& head, const model::Record& rec) {
  out += head;
  out += "{\"record\":{\"row\":{";
  AppendJsonMember(out, "source_ip", rec.source.ip_address);
  out += ',';
  AppendJsonMember(out, "count", std::to_string(rec.count));
  out += ",\"policy_evaluated\":{";
  AppendJsonMember(out, "disposition", rec.policy_evaluated.disposition);
  out += ',';
  AppendJsonMember(out, "dkim", rec.policy_evaluated.dkim);
  out += ',';
  AppendJsonMember(out, "spf", rec.policy_evaluated.spf);
  out += "}},\"identifiers\":{";
  AppendJsonMember(out, "header_from", rec.identifiers.header_from);
  out += "},";
  AppendJsonAuthResults(out, rec);
  out += "}}],\"vendor_rua_xsd_validations\":\"unknown\"}\n";
}

struct SplunkFileSettings {
  std::string name;
  fs::path dir;
  std::string file_name;  // dmarc.kv or dmarc.json
  bool json = false;
  std::int64_t rotate_bytes = 0;
  int keep = 0;
  bool sync = true;
  std::size_t ledger_keys = 0;
};

// FNV-1a: the ledger keeps 64-bit digests of report keys (stable across builds, unlike
// std::hash); a collision among a million keys has a chance of about 3e-8.
std::uint64_t KeyDigest(std::string_view key) {
  std::uint64_t h = 1469598103934665603ULL;
  for (const char c : key) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

Error IoError(const std::string& what, const fs::path& path) {
  return MakeError(ErrorKind::kIo, what + " " + path.string() + ": " + std::strerror(errno));
}

Status WriteAll(int fd, std::string_view data, const fs::path& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return IoError("cannot write", path);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return Ok();
}

class SplunkFileOutput : public Output {
 public:
  explicit SplunkFileOutput(SplunkFileSettings s) : s_(std::move(s)) {}
  ~SplunkFileOutput() override { CloseFiles(); }
  SplunkFileOutput(const SplunkFileOutput&) = delete;
  SplunkFileOutput& operator=(const SplunkFileOutput&) = delete;

  const std::string& Name() const override { return s_.name; }
  Result<bool> Prepare() override;
  Status Deliver(std::span<const Item> items) override;

 private:
  fs::path File() const { return s_.dir / s_.file_name; }
  fs::path Ledger() const { return s_.dir / ".dmarc-report-delivered"; }
  void CloseFiles();
  Status LoadLedger();
  Status Recover();
  Status Append(const std::string& events, std::uint64_t digest);
  Status Commit();
  Status Rotate();
  Status Compact();
  Status DeliverAll(std::span<const Item> items);

  SplunkFileSettings s_;
  bool ready_ = false;
  int fd_ = -1, ledger_fd_ = -1;
  std::uint64_t inode_ = 0;
  std::int64_t size_ = 0;
  std::unordered_set<std::uint64_t> delivered_;
  std::vector<std::uint64_t> uncommitted_;
  std::string ledger_lines_;  // of the reports written since the last Commit
  // The ledger's last line: the file and the size it had after the last recorded report.
  bool ledger_existed_ = false, has_last_ = false;
  std::uint64_t last_inode_ = 0;
  std::int64_t last_size_ = 0;
};

void SplunkFileOutput::CloseFiles() {
  if (fd_ >= 0) ::close(fd_);
  if (ledger_fd_ >= 0) ::close(ledger_fd_);
  fd_ = ledger_fd_ = -1;
  ready_ = false;
  uncommitted_.clear();
  ledger_lines_.clear();
}

Status SplunkFileOutput::LoadLedger() {
  delivered_.clear();
  has_last_ = false;
  std::error_code ec;
  ledger_existed_ = fs::exists(Ledger(), ec);
  if (ledger_existed_) {
    std::ifstream in(Ledger());
    if (!in) return IoError("cannot read", Ledger());
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::uint64_t inode = 0, digest = 0;
      std::int64_t size = 0;
      if (!(fields >> inode >> size >> std::hex >> digest)) continue;  // a torn last line
      delivered_.insert(digest);
      has_last_ = true;
      last_inode_ = inode;
      last_size_ = size;
    }
  }
  ledger_fd_ = ::open(Ledger().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (ledger_fd_ < 0) return IoError("cannot open", Ledger());
  return Ok();
}

// Takes back what was written after the last recorded report (a crash between writing the
// events and recording them): the engine sends those reports again.
Status SplunkFileOutput::Recover() {
  struct stat st {};
  if (::stat(File().c_str(), &st) != 0) return Ok();  // rotated, nothing written since
  std::int64_t keep = st.st_size;
  if (has_last_ && st.st_ino == last_inode_) {
    keep = std::min<std::int64_t>(st.st_size, last_size_);
  } else if (ledger_existed_) {
    keep = 0;  // a file begun after the last recorded report
  }
  if (keep < st.st_size && ::truncate(File().c_str(), keep) != 0) {
    return IoError("cannot truncate", File());
  }
  return Ok();
}

Result<bool> SplunkFileOutput::Prepare() {
  if (ready_) return true;
  CloseFiles();
  std::error_code ec;
  fs::create_directories(s_.dir, ec);
  if (ec)
    return MakeError(ErrorKind::kIo, "cannot create " + s_.dir.string() + ": " + ec.message());
  DMARC_TRY(LoadLedger());
  DMARC_TRY(Recover());
  ready_ = true;
  return true;
}

Status SplunkFileOutput::Rotate() {
  DMARC_TRY(Commit());
  ::close(fd_);
  fd_ = -1;
  const std::string base = File().string();
  std::error_code ec;
  fs::remove(base + "." + std::to_string(s_.keep), ec);
  for (int i = s_.keep - 1; i >= 1; --i) {
    const std::string from = base + "." + std::to_string(i);
    if (fs::exists(from, ec)) fs::rename(from, base + "." + std::to_string(i + 1), ec);
    if (ec) return MakeError(ErrorKind::kIo, "cannot rotate " + from + ": " + ec.message());
  }
  fs::rename(base, base + ".1", ec);
  if (ec) return MakeError(ErrorKind::kIo, "cannot rotate " + base + ": " + ec.message());
  return Ok();
}

Status SplunkFileOutput::Append(const std::string& events, std::uint64_t digest) {
  if (fd_ >= 0 && size_ > 0 && size_ + static_cast<std::int64_t>(events.size()) > s_.rotate_bytes) {
    DMARC_TRY(Rotate());
  }
  if (fd_ < 0) {
    fd_ = ::open(File().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    struct stat st {};
    if (fd_ < 0 || ::fstat(fd_, &st) != 0) return IoError("cannot open", File());
    inode_ = st.st_ino;
    size_ = st.st_size;
    if (size_ > 0 && size_ + static_cast<std::int64_t>(events.size()) > s_.rotate_bytes) {
      DMARC_TRY(Rotate());
      return Append(events, digest);
    }
  }
  // One write per report: the forwarder never reads half of a report's events but at a crash,
  // and Recover takes those back.
  DMARC_TRY(WriteAll(fd_, events, File()));
  size_ += static_cast<std::int64_t>(events.size());
  char line[80];
  std::snprintf(line, sizeof line, "%llu %lld %016llx\n", static_cast<unsigned long long>(inode_),
                static_cast<long long>(size_), static_cast<unsigned long long>(digest));
  ledger_lines_ += line;
  uncommitted_.push_back(digest);
  return Ok();
}

// The events reach the disk before the ledger says they are there.
Status SplunkFileOutput::Commit() {
  if (ledger_lines_.empty()) return Ok();
  if (s_.sync && ::fsync(fd_) != 0) return IoError("cannot sync", File());
  DMARC_TRY(WriteAll(ledger_fd_, ledger_lines_, Ledger()));
  if (s_.sync && ::fsync(ledger_fd_) != 0) return IoError("cannot sync", Ledger());
  ledger_lines_.clear();
  delivered_.insert(uncommitted_.begin(), uncommitted_.end());
  uncommitted_.clear();
  return Ok();
}

// Keeps the ledger's newest half when it holds more than ledger_keys reports.
Status SplunkFileOutput::Compact() {
  if (delivered_.size() <= s_.ledger_keys) return Ok();
  std::vector<std::string> lines;
  {
    std::ifstream in(Ledger());
    for (std::string line; std::getline(in, line);) lines.push_back(std::move(line));
  }
  const std::size_t from = lines.size() - std::min(lines.size(), s_.ledger_keys / 2);
  const fs::path tmp = Ledger().string() + ".tmp";
  std::string text;
  for (std::size_t i = from; i < lines.size(); ++i) text += lines[i] + "\n";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot write", tmp);
  Status st = WriteAll(fd, text, tmp);
  if (st.ok() && ::fsync(fd) != 0) st = IoError("cannot sync", tmp);
  ::close(fd);
  DMARC_TRY(st);
  if (::rename(tmp.c_str(), Ledger().c_str()) != 0) return IoError("cannot replace", Ledger());
  CloseFiles();
  return Prepare().ok() ? Ok() : IoError("cannot reopen", Ledger());
}

Status SplunkFileOutput::DeliverAll(std::span<const Item> items) {
  for (const Item& item : items) {
    if (item.aggregate == nullptr) continue;  // no format for these in the Splunk app
    const std::uint64_t digest = KeyDigest(item.key);
    if (delivered_.count(digest) != 0 ||
        std::find(uncommitted_.begin(), uncommitted_.end(), digest) != uncommitted_.end()) {
      continue;  // sent again after a crash or an error: written already
    }
    const std::string events =
        s_.json ? SplunkJsonEvents(*item.aggregate) : SplunkKvEvents(*item.aggregate);
    DMARC_TRY(Append(events, digest));
  }
  DMARC_TRY(Commit());
  return Compact();
}

Status SplunkFileOutput::Deliver(std::span<const Item> items) {
  if (!ready_) DMARC_TRY(Prepare());
  Status st = DeliverAll(items);
  if (!st.ok()) CloseFiles();  // the next Prepare takes back what this batch wrote
  return st;
}

Result<SplunkFileSettings> ReadSplunkFileSettings(const OutputConfig& config) {
  OptionReader r(config,
                 {"directory", "file_name", "rotate_bytes", "keep", "fsync", "ledger_keys"});
  SplunkFileSettings s;
  s.name = config.name;
  s.json = config.type == "splunk_json";
  s.dir = r.String("directory", "");
  if (s.dir.empty()) r.Fail("directory", "required (the folder the Universal Forwarder monitors)");
  s.file_name = r.String("file_name", s.json ? "dmarc.json" : "dmarc.kv");
  if (s.file_name.empty() || s.file_name.find('/') != std::string::npos || s.file_name[0] == '.') {
    r.Fail("file_name", "a file name without a folder, not starting with a dot");
  }
  s.rotate_bytes = r.Int("rotate_bytes", 50LL << 20, 4096, 1LL << 40);
  s.keep = static_cast<int>(r.Int("keep", 10, 1, 1000));
  s.sync = r.Bool("fsync", true);
  s.ledger_keys = static_cast<std::size_t>(r.Int("ledger_keys", 1000000, 100, 100000000));
  DMARC_TRY(r.Check());
  return s;
}

}  // namespace

Result<std::unique_ptr<Output>> MakeSplunkFileOutput(const OutputConfig& config) {
  if (config.type != "splunk_kv" && config.type != "splunk_json") {
    return MakeError(ErrorKind::kInvalid, "output." + config.name + ".type: \"" + config.type +
                                              "\" is not splunk_kv or splunk_json");
  }
  SplunkFileSettings s;
  DMARC_TRY_ASSIGN(s, ReadSplunkFileSettings(config));
  return std::unique_ptr<Output>(std::make_unique<SplunkFileOutput>(std::move(s)));
}

std::string SplunkKvEvents(const model::AggregateReport& report) {
  std::string out;
  for (const auto& rec : report.records) AppendKvRecord(out, report, rec);
  return out;
}

std::string SplunkJsonEvents(const model::AggregateReport& report) {
  const std::string head = JsonHead(report);
  std::string out;
  for (const auto& rec : report.records) AppendJsonRecord(out, head, rec);
  return out;
}

}  // namespace dmarc::outputs
