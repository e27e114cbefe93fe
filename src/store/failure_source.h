// A stored failure report's data (its JSON, as the stores keep it) with the source replaced by
// what enrichment found later: the background enrichment of `run` and `enrich` fill in the
// source of failure reports stored before their DNS answer came.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

#include "base/result.h"
#include "model/aggregate.h"
#include "model/failure.h"

namespace dmarc::store {

// The data with source = sources.at(its source address), kept as it is for an address not in
// sources; the JSON as the stores write it.
Result<std::string> FailureDataWithSource(
    std::string_view data, const std::unordered_map<std::string, const model::Source*>& sources);

// What the stores write of a failure report (sinks::FailureToJson, invalid UTF-8 replaced).
std::string FailureData(const model::FailureReport& report);

}  // namespace dmarc::store
