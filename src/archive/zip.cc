#include <utility>

#include "archive/archive.h"

namespace dmarc::archive {

Result<std::size_t> ForEachZipEntry(std::string_view in, const Limits& limits,
                                    const ZipVisitor& visit, const ZipProblem& problem) {
  DecompressionBudget budget(limits.max_decompressed_bytes);
  return ForEachZipEntry(in, limits, budget, visit, problem);
}

Result<std::size_t> ForEachZipEntry(std::string_view in, const Limits& limits,
                                    DecompressionBudget& budget, const ZipVisitor& visit,
                                    const ZipProblem& problem) {
  ZipEntry entry;
  const ZipStreamVisitor collect{
      .begin =
          [&entry](const std::string& name) {
            entry.name = name;
            entry.data.clear();
            return true;
          },
      .chunk =
          [&entry](std::string_view chunk) {
            entry.data.append(chunk);
            return Ok();
          },
      .end = [&entry, &visit](const std::string& /*name*/) { visit(std::exchange(entry, {})); },
  };
  return ForEachZipEntryStreamed(in, limits, budget, collect, problem);
}

}  // namespace dmarc::archive
