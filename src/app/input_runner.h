// The parts of `parse`, `import` and `fetch` that are the same: extract the reports of one input
// (a file or a mail already in memory), keeping what is needed to file a rejection (digest, size,
// first bytes); and store the results of a batch of inputs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "enrich/enrich.h"
#include "pipeline/extract.h"
#include "store/store.h"

namespace dmarc::app {

struct InputResult {
  pipeline::Extracted extracted;
  // Only filled when the input has rejections.
  std::string sha256;
  std::uint64_t size = 0;
  std::string head;  // the first raw_bytes of the input
};

InputResult ExtractInput(const std::string& path, const pipeline::ExtractOptions& options,
                         std::size_t raw_bytes);
// The same for bytes in memory; label names the input in origins and messages.
// Inputs headed for StoreResults set options.keep_raw_xml so that the store keeps each report's
// XML (import in store_commands.cc, fetch in fetch_command.cc).
InputResult ExtractBuffer(std::string_view bytes, const std::string& label,
                          const pipeline::ExtractOptions& options, std::size_t raw_bytes);

// Stores every report and rejection of these inputs as one batch: the one place where extracted
// reports enter the store. With an enricher, the sources of reports the store does not have yet
// are enriched first (adding to *enrich_total). Returns once the batch is committed.
Result<store::BatchResult> StoreResults(store::ReportStore& st, std::vector<InputResult>& inputs,
                                        enrich::Enricher* enricher = nullptr,
                                        enrich::LookupStats* enrich_total = nullptr);

}  // namespace dmarc::app
