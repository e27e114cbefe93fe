// The dashboard's JSON API (docs/api.md), independent of HTTP: a GET path and its query
// parameters in, a status and a body out. The server (server.h) and the HTML report use it.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "store/dashboard.h"
#include "store/forwarders.h"
#include "store/sender_index.h"
#include "store/store.h"

namespace dmarc::web {

// Exactly the object `stats --json` prints.
nlohmann::ordered_json StatsJson(const store::Stats& stats);

struct ApiAnswer {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string download_name;  // set: sent as an attachment with this name
};

struct ApiOptions {
  bool show_failure_samples = false;  // failure reports' message samples (personal data)
  // The largest page a list answers (a larger `limit` is cut to it); the HTML report, which
  // embeds whole lists, raises it.
  std::size_t max_limit = 1000;
  // How the program that serves fills in the sources' DNS names (GET /api/enrichment): "on",
  // "offline" (no DNS), "off"; empty: this program does not enrich (`serve`), another may.
  std::string enrichment;
  // The known forwarders of GET /api/advise (store/forwarders.h); null: the bundled list.
  std::shared_ptr<const store::Forwarders> forwarders;
  // The sender indexes of GET /api/senders and /api/advise (store/sender_index.h), shared by the
  // server's connections; null: each answer reads the domain's reports anew.
  std::shared_ptr<store::SenderIndexCache> sender_indexes;
};

// The most bytes of a list's search text (`q`).
inline constexpr std::size_t kMaxSearchBytes = 100;

using Params = std::multimap<std::string, std::string>;

// Serialises JSON for the wire; invalid UTF-8 (which the parser never stores, but file names of
// rejected inputs may carry) becomes U+FFFD instead of an exception.
std::string DumpJson(const nlohmann::json& j);
std::string DumpJson(const nlohmann::ordered_json& j);

class Api {
 public:
  Api(store::ReportStore& store, store::DashboardQueries& queries, ApiOptions options)
      : store_(store), queries_(queries), options_(std::move(options)) {}

  // path starts with "/api/". Unknown paths give 404, bad parameters 400, store errors 500;
  // error bodies are {"error": "..."}. A store error's detail (SQL, file paths) goes to the log
  // (spdlog's default logger), never into the answer.
  ApiAnswer Get(const std::string& path, const Params& params);
  // POST /api/senders/status (api_senders.h) by `who`; the server has checked who may.
  ApiAnswer PostSenderStatus(const std::string& body, const std::string& who);

 private:
  // /api/report, /api/report/raw and /api/rejected/raw: one item by its id.
  ApiAnswer GetById(const std::string& path, const Params& params);
  // The paths that take no filter: domain names, enrichment state, one failure report; nullopt
  // for other paths.
  std::optional<ApiAnswer> GetUnfiltered(const std::string& path, const Params& params);
  // The known forwarders: the configured ones, else the bundled list.
  const store::Forwarders& Forwarders() const {
    return options_.forwarders ? *options_.forwarders : store::Forwarders::BuiltIn();
  }

  store::ReportStore& store_;
  store::DashboardQueries& queries_;
  ApiOptions options_;
};

}  // namespace dmarc::web
