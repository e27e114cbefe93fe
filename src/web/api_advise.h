// The enforcement advisor's JSON (docs/api.md, "Enforcement advisor"; docs/senders.md):
// GET /api/advise and `advise --json`.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "store/advisor.h"
#include "store/sender_index.h"
#include "web/api.h"

namespace dmarc::web {

// The longest period, in days, the advisor is asked about.
inline constexpr int kMaxAdviceDays = 366;

nlohmann::ordered_json AdviceJson(const store::Advice& a);

// GET /api/advise?domain=D[&days=N][&until=YYYY-MM-DD] at `now` (Unix seconds; `until`: the
// end of that UTC day instead), with these known forwarders (nullptr: the bundled list), from the
// cache's index of the domain (nullptr: a new one).
ApiAnswer AdviseAnswer(store::ReportStore& store, const Params& params, std::int64_t now,
                       const store::Forwarders* forwarders = nullptr,
                       store::SenderIndexCache* indexes = nullptr);

}  // namespace dmarc::web
