// GET /api/outputs (docs/api.md): each output the store's outbox knows, with its backlog, last
// success and last error; the dashboard shows a red badge when one is failing. The same objects
// `dmarc-report outputs --json` prints (with the configuration's fields added there).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "store/store.h"
#include "web/api.h"

namespace dmarc::web {

// An output fails while its last attempts failed (none succeeded since).
inline bool OutputFailing(const store::OutboxState& s) { return s.consecutive_failures > 0; }

nlohmann::ordered_json OutputStateJson(const store::OutboxState& s);
// {"now": ..., "failing": N, "outputs": [...]}
nlohmann::ordered_json OutputsJson(const std::vector<store::OutboxState>& states, std::int64_t now);

// The answer of GET /api/outputs; a store without an outbox answers no outputs.
ApiAnswer OutputsAnswer(store::ReportStore& store);

}  // namespace dmarc::web
