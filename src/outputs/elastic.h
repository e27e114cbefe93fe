// The Elasticsearch, OpenSearch and ZincSearch outputs (`type = "elasticsearch"`,
// "opensearch", "zincsearch"): parsedmarc's documents sent with the `_bulk` API, to
// parsedmarc's index names, after installing index templates with explicit mappings. See
// docs/outputs.md for the keys.
#pragma once

#include <memory>

#include "base/result.h"
#include "outputs/output.h"

namespace dmarc::outputs {

// One factory for the three types (config.type says which).
Result<std::unique_ptr<Output>> MakeElasticsearchOutput(const OutputConfig& config);

}  // namespace dmarc::outputs
