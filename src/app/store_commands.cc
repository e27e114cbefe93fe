// What the query commands (`stats`, `export`) share: the store and filter they work on.
#include "app/store_commands.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/time.h"

namespace dmarc::app {

Result<store::Filter> ToFilter(const FilterOptions& f) {
  store::Filter out;
  if (!f.domain.empty()) out.domain = f.domain;
  if (!f.from.empty()) {
    out.from = ParseDate(f.from);
    if (!out.from) return MakeError(fmt::format("--from: \"{}\" is not a date YYYY-MM-DD", f.from));
  }
  if (!f.to.empty()) {
    out.to = ParseDate(f.to);
    if (!out.to) return MakeError(fmt::format("--to: \"{}\" is not a date YYYY-MM-DD", f.to));
  }
  if (out.from && out.to && *out.to < *out.from) {
    return MakeError("--to is before --from");
  }
  return out;
}

std::shared_ptr<const store::Forwarders> ForwardersOrSay(const std::vector<std::string>& files) {
  auto forwarders = store::Forwarders::WithFiles(files);
  if (!forwarders) {
    spdlog::error("--forwarders-file: {}", forwarders.error());
    return nullptr;
  }
  return *std::move(forwarders);
}

std::optional<QueryTarget> OpenForQuery(const StoreArgs& args, const FilterOptions& options) {
  auto filter = ToFilter(options);
  if (!filter) {
    spdlog::error("{}", filter.error());
    return std::nullopt;
  }
  auto st = OpenStoreOrSay(args, Access::kRead);
  if (!st) return std::nullopt;
  return QueryTarget{*filter, std::move(st)};
}

}  // namespace dmarc::app
