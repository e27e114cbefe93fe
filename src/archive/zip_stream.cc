#include "archive/archive.h"

namespace dmarc::archive {

// Not written yet: the foundation of issue #14 (streaming decompression).
Result<std::size_t> ForEachZipEntryStreamed(std::string_view /*in*/, const Limits& /*limits*/,
                                            DecompressionBudget& /*budget*/,
                                            const ZipStreamVisitor& /*visit*/,
                                            const ZipProblem& /*problem*/) {
  return MakeError("streaming unzip not written yet");
}

}  // namespace dmarc::archive
