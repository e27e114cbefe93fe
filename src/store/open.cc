#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "base/files.h"
#include "base/time.h"
#include "store/pg/pg_store.h"
#include "store/sha256.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace dmarc::store {

std::string FailureDedupKey(const model::FailureReport& r) {
  // The fields that identify one report of one message, independent of how much of the sample
  // was kept and of the recoveries recorded; a JSON array is an unambiguous encoding.
  nlohmann::json key = nlohmann::json::array();
  auto opt = [](const model::OptString& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
  key.push_back("failure-v1");
  key.push_back(opt(r.feedback_type));
  key.push_back(r.arrival_ts);
  key.push_back(r.source.ip_address);
  key.push_back(r.reported_domain);
  key.push_back(opt(r.original_mail_from));
  key.push_back(opt(r.original_rcpt_to));
  key.push_back(opt(r.original_envelope_id));
  key.push_back(r.auth_failure);
  key.push_back(opt(r.authentication_results));
  key.push_back(opt(r.dkim_domain));
  const model::FailureSample* s = r.parsed_sample ? &*r.parsed_sample : nullptr;
  key.push_back(s ? opt(s->message_id) : nlohmann::json());
  key.push_back(s ? opt(s->subject) : nlohmann::json());
  key.push_back(s ? opt(s->date) : nlohmann::json());
  return Sha256Hex(key.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

Result<std::vector<bool>> ReportStore::AggregatesStored(
    const std::vector<const model::AggregateReport*>&) {
  return MakeError(Describe() + ": cannot tell stored reports in advance");
}
Result<std::vector<IpInfoRow>> ReportStore::GetIpInfo(const std::vector<std::string>&,
                                                      std::int64_t) {
  return MakeError(Describe() + ": no enrichment cache in this store");
}
Result<bool> ReportStore::PutIpInfo(const std::vector<IpInfoRow>&) {
  return MakeError(Describe() + ": no enrichment cache in this store");
}
Result<bool> ReportStore::PutSourceInfo(const std::vector<model::Source>&) {
  return MakeError(Describe() + ": no enrichment cache in this store");
}
Result<std::vector<std::string>> ReportStore::SourceIpsToEnrich(std::int64_t) {
  return MakeError(Describe() + ": enrichment not supported by this store");
}
Result<std::size_t> ReportStore::UpdateSources(const std::vector<model::Source>&, std::int64_t,
                                               std::int64_t) {
  return MakeError(Describe() + ": enrichment not supported by this store");
}

Result<std::size_t> ReportStore::ForEachCopy(std::size_t,
                                             const std::function<Result<bool>(CopyBatch&&)>&) {
  return MakeError(ErrorKind::kUnsupported, Describe() + ": cannot be copied");
}
Result<BatchResult> ReportStore::StoreCopy(const CopyBatch&) {
  return MakeError(ErrorKind::kUnsupported, Describe() + ": cannot take a copy");
}

Batch BatchOfCopies(const CopyBatch& copy) {
  Batch batch;
  std::map<std::int64_t, std::size_t> times;
  for (const auto& a : copy.aggregates) {
    batch.aggregates.push_back({a.origin, &a.report, a.raw_xml_packed, a.raw_xml_size});
    if (!a.raw_xml_packed.empty()) batch.aggregates.back().raw_xml_encoding = a.raw_xml_encoding;
    for (std::int64_t t : a.sources_enriched_at) ++times[t];
  }
  std::size_t most = 0;
  for (const auto& [t, n] : times) {
    if (n > most) {
      most = n;
      batch.sources_enriched_at = t;
    }
  }
  for (const auto& f : copy.failures) batch.failures.push_back({f.origin, &f.report});
  for (const auto& t : copy.smtp_tls) batch.smtp_tls.push_back({t.origin, &t.report});
  batch.rejections = copy.rejections;
  return batch;
}

Result<std::string> SqlitePathFromUrl(const std::string& url) {
  std::string path = url;
  if (url.starts_with("sqlite:")) {
    path = url.substr(7);
    if (path.starts_with("//")) path = path.substr(2);  // sqlite:///abs/path
  } else if (IsPostgresUrl(url)) {
    return MakeError(ErrorKind::kUnsupported, "a PostgreSQL store is not a SQLite file");
  } else if (url.find("://") != std::string::npos) {
    return MakeError(ErrorKind::kUnsupported,
                     fmt::format("unsupported store URL \"{}\": use sqlite:PATH, a file path "
                                 "or postgresql://user@host:port/database",
                                 url.substr(0, url.find("://"))));
  }
  if (path.empty()) return MakeError(ErrorKind::kInvalid, "empty store path");
  return path;
}

std::pair<std::int64_t, std::int64_t> DayRange(const Filter& f) {
  return {f.from.value_or(INT64_MIN / 2), f.to ? *f.to + kSecondsPerDay : INT64_MAX / 2};
}

Result<std::unique_ptr<ReportStore>> OpenStore(const std::string& url, const OpenOptions& options) {
  if (IsPostgresUrl(url)) return OpenPgStore(url, options);
  auto sqlite_path = SqlitePathFromUrl(url);
  if (!sqlite_path) return std::move(sqlite_path).error_value();
  const std::string& path = *sqlite_path;
  // The store holds reports and failure samples: its folder and file are private whatever the
  // umask (SQLite gives the -wal and -shm files the database's mode).
  if (path != ":memory:" && !path.starts_with("file:")) {
    std::error_code ec;
    if (options.must_exist && !std::filesystem::exists(path, ec)) {
      return MakeError(ErrorKind::kNotFound,
                       fmt::format("no store at {}: create one with `dmarc-report import` or "
                                   "`dmarc-report run`",
                                   path));
    }
    if (Status made = CreatePrivateDirectories(std::filesystem::path(path).parent_path()); !made) {
      return std::move(made).error_value();
    }
    if (Status made = CreatePrivateFile(path); !made) return std::move(made).error_value();
  }
  return OpenSqliteStore(path, options);
}

Result<std::unique_ptr<DashboardQueries>> OpenDashboard(const std::string& url,
                                                        const OpenOptions& options) {
  if (IsPostgresUrl(url)) return OpenPgDashboard(url, options);
  return OpenSqliteDashboard(url);
}

}  // namespace dmarc::store
