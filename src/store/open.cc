#include <fmt/format.h>

#include <filesystem>

#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace dmarc::store {

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
Result<std::vector<std::string>> ReportStore::SourceIpsToEnrich(std::int64_t) {
  return MakeError(Describe() + ": enrichment not supported by this store");
}
Result<std::size_t> ReportStore::UpdateSources(const std::vector<model::Source>&, std::int64_t,
                                               std::int64_t) {
  return MakeError(Describe() + ": enrichment not supported by this store");
}

Result<std::unique_ptr<ReportStore>> OpenStore(const std::string& url, const OpenOptions& options) {
  std::string path = url;
  if (url.starts_with("sqlite:")) {
    path = url.substr(7);
    if (path.starts_with("//")) path = path.substr(2);  // sqlite:///abs/path
  } else if (url.find("://") != std::string::npos) {
    return MakeError(
        fmt::format("unsupported store URL \"{}\": use sqlite:PATH or a file path "
                    "(postgresql:// comes in a later version)",
                    url));
  }
  if (path.empty()) return MakeError("empty store path");
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) return MakeError(fmt::format("cannot create {}: {}", parent.string(), ec.message()));
  }
  return OpenSqliteStore(path, options);
}

}  // namespace dmarc::store
