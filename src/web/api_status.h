// GET /api/status (docs/api.md): the ingest status of the store (store/ingest_status.h) as JSON,
// the same object `dmarc-report status --json` prints.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "store/store.h"
#include "web/api.h"

namespace dmarc::web {

// Rejected inputs the status shows (the newest).
inline constexpr std::size_t kStatusRejections = 20;

// The status as JSON; `now` (Unix seconds) is printed with it, so that a reader can tell how old
// each source's last update is.
nlohmann::ordered_json IngestStatusJson(const store::IngestStatus& status, std::int64_t now);

// The answer of GET /api/status.
ApiAnswer StatusAnswer(store::ReportStore& store);

}  // namespace dmarc::web
