// The sender inventory's JSON (docs/api.md, "Senders"; docs/senders.md): GET /api/senders and
// POST /api/senders/status, and the object `senders list --json` prints for each sender.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "store/dashboard.h"
#include "store/sender_index.h"
#include "store/senders.h"
#include "web/api.h"

namespace dmarc::web {

// The most bytes of a POST /api/senders/status body.
inline constexpr std::size_t kMaxSenderStatusBody = 4096;

nlohmann::ordered_json SenderJson(const store::Sender& s);

// GET /api/senders?domain=D[&status=S][&q=..&offset=..&limit=..] at `now` (Unix seconds), with
// these known forwarders (nullptr: the bundled list), from the cache's index of the domain
// (nullptr: a new one).
ApiAnswer SendersAnswer(store::ReportStore& store, const store::DashboardFilter& filter,
                        const store::ListPage& page, const Params& params, std::int64_t now,
                        const store::Forwarders* forwarders = nullptr,
                        store::SenderIndexCache* indexes = nullptr);

// POST /api/senders/status with {"domain", "sender", "status"} from `who` at `now`.
ApiAnswer SenderStatusAnswer(store::ReportStore& store, const std::string& body,
                             const std::string& who, std::int64_t now);

}  // namespace dmarc::web
