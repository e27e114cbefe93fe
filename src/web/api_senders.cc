// GET /api/senders and POST /api/senders/status (api_senders.h).
#include "web/api_senders.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <utility>
#include <vector>

namespace dmarc::web {

namespace {

ApiAnswer Answer(int status, const nlohmann::json& j) {
  return {status, "application/json", DumpJson(j), ""};
}

double Rate(std::uint64_t part, std::uint64_t whole) {
  return whole ? static_cast<double>(part) / static_cast<double>(whole) : 0.0;
}

}  // namespace

nlohmann::ordered_json SenderJson(const store::Sender& s) {
  nlohmann::ordered_json j;
  j["sender"] = s.key;
  j["kind"] = s.kind;
  j["type"] = s.type.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(s.type);
  j["status"] = s.status;
  j["suggested_status"] = s.suggested;
  if (s.status_row) {
    j["status_changed_by"] = s.status_row->changed_by;
    j["status_changed_at"] = s.status_row->changed_at;
  } else {
    j["status_changed_by"] = nullptr;
    j["status_changed_at"] = nullptr;
  }
  j["first_seen"] = s.first_seen;
  j["last_seen"] = s.last_seen;
  j["messages"] = s.messages;
  j["messages_last_30d"] = s.messages_last_30d;
  j["messages_prior_30d"] = s.messages_prior_30d;
  j["spf_aligned"] = s.spf_aligned;
  j["dkim_aligned"] = s.dkim_aligned;
  j["dmarc_pass"] = s.dmarc_pass;
  j["spf_aligned_rate"] = Rate(s.spf_aligned, s.messages);
  j["dkim_aligned_rate"] = Rate(s.dkim_aligned, s.messages);
  j["dmarc_pass_rate"] = Rate(s.dmarc_pass, s.messages);
  j["ip_count"] = s.ip_count;
  j["ips"] = s.ips;
  j["dkim_domains"] = s.dkim_domains;
  j["dkim_selectors"] = s.dkim_selectors;
  j["spf_domains"] = s.spf_domains;
  j["forwarder_messages"] = s.forwarder_messages;
  j["known_forwarder"] = s.known_forwarder.empty() ? nlohmann::ordered_json(nullptr)
                                                   : nlohmann::ordered_json(s.known_forwarder);
  return j;
}

ApiAnswer SendersAnswer(store::ReportStore& store, const store::DashboardFilter& filter,
                        const store::ListPage& page, const Params& params, std::int64_t now,
                        const store::Forwarders* forwarders, store::SenderIndexCache* indexes) {
  if (!filter.range.domain) return Answer(400, {{"error", "domain: a policy domain is required"}});
  store::InventoryOptions opts;
  opts.domain = *filter.range.domain;
  opts.now = now;
  opts.search = page.search;
  if (auto it = params.find("status"); it != params.end() && !it->second.empty()) {
    if (!store::IsSenderStatus(it->second)) {
      return Answer(400, {{"error", fmt::format("status: unknown \"{}\"", it->second)}});
    }
    opts.status = it->second;
  }
  auto index = store::SenderIndexOf(store, opts.domain, forwarders, indexes);
  auto senders =
      index ? store::SenderInventory(store, **index, opts)
            : Result<std::vector<store::Sender>>(MakeError(index.error_kind(), index.error()));
  if (!senders) {
    spdlog::error("dashboard API: the store failed: {}", senders.error());
    return Answer(500, {{"error", "the report store failed; the details are in the log"}});
  }
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (std::size_t i = page.offset; i < senders->size() && i - page.offset < page.limit; ++i) {
    rows.push_back(SenderJson((*senders)[i]));
  }
  nlohmann::ordered_json j;
  j["domain"] = opts.domain;
  j["senders"] = std::move(rows);
  j["total"] = senders->size();
  j["offset"] = page.offset;
  j["limit"] = page.limit;
  return {200, "application/json", DumpJson(j), ""};
}

ApiAnswer SenderStatusAnswer(store::ReportStore& store, const std::string& body,
                             const std::string& who, std::int64_t now) {
  if (body.size() > kMaxSenderStatusBody) return Answer(413, {{"error", "the body is too large"}});
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  auto text = [&](const char* key) {
    return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>()
                                                                  : std::string();
  };
  store::SenderStatusRow row{text("domain"), text("sender"), text("status"), who, now};
  if (auto ok = store::CheckSenderStatusRow(row); !ok) return Answer(400, {{"error", ok.error()}});
  if (auto r = store.SetSenderStatus(row); !r) {
    spdlog::error("dashboard API: the store failed: {}", r.error());
    return Answer(500, {{"error", "the report store failed; the details are in the log"}});
  }
  return Answer(200, {{"domain", row.domain},
                      {"sender", row.sender},
                      {"status", row.status},
                      {"changed_by", who},
                      {"changed_at", now}});
}

}  // namespace dmarc::web
