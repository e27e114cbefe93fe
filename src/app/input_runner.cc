#include "app/input_runner.h"

#include "pipeline/inputs.h"
#include "store/sha256.h"

namespace dmarc::app {

InputResult ExtractInput(const std::string& path, const pipeline::ExtractOptions& options,
                         std::size_t raw_bytes) {
  InputResult out;
  const std::string label = path == "-" ? "<stdin>" : path;
  auto bytes = pipeline::ReadInput(path, options.limits());
  if (!bytes) {
    out.extracted.rejections.push_back({label, bytes.error()});
    return out;
  }
  out.extracted = pipeline::ExtractReports(*bytes, label, options);
  if (!out.extracted.rejections.empty()) {
    out.sha256 = store::Sha256Hex(*bytes);
    out.size = bytes->size();
    out.head = bytes->substr(0, raw_bytes);
  }
  return out;
}

}  // namespace dmarc::app
