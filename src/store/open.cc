#include <fmt/format.h>

#include <filesystem>

#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace dmarc::store {

Result<std::string> SqlitePathFromUrl(const std::string& url) {
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
  return path;
}

Result<std::unique_ptr<ReportStore>> OpenStore(const std::string& url, const OpenOptions& options) {
  auto sqlite_path = SqlitePathFromUrl(url);
  if (!sqlite_path) return MakeError(sqlite_path.error());
  const std::string& path = *sqlite_path;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) return MakeError(fmt::format("cannot create {}: {}", parent.string(), ec.message()));
  }
  return OpenSqliteStore(path, options);
}

}  // namespace dmarc::store
