// How the engine delivers to one output ([output.NAME]'s keys that every type has beside `type`
// and `required`): read by config, used by the engine (engine.h). See docs/outputs.md.
#pragma once

#include <cstddef>
#include <cstdint>

#include "outputs/output.h"

namespace dmarc::outputs {

struct DeliverySettings {
  std::size_t batch_size = 100;           // reports handed to Deliver at once (`batch_size`)
  std::size_t batch_records = 100'000;    // ... fewer once they hold this many records
  std::int64_t retry_min_seconds = 10;    // the first wait after a failure (`retry_min`)
  std::int64_t retry_max_seconds = 3600;  // the longest (`retry_max`); doubled in between
  bool operator==(const DeliverySettings&) const = default;
};

// One [output.NAME] table.
struct OutputTable {
  OutputConfig output;
  DeliverySettings delivery;
};

// The wait before attempt number failures + 1, after `failures` (>= 1) failed in a row.
inline std::int64_t RetryDelay(const DeliverySettings& s, std::uint64_t failures) {
  std::int64_t delay = s.retry_min_seconds;
  for (std::uint64_t i = 1; i < failures && delay < s.retry_max_seconds; ++i) delay *= 2;
  return delay < s.retry_max_seconds ? delay : s.retry_max_seconds;
}

}  // namespace dmarc::outputs
