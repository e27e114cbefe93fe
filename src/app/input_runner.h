// The part of `parse` and `import` that is the same: read one input and extract its reports,
// keeping what is needed to file a rejection (digest, size, first bytes).
#pragma once

#include <cstdint>
#include <string>

#include "pipeline/extract.h"

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

}  // namespace dmarc::app
