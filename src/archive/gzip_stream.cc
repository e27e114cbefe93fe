#include "archive/archive.h"

namespace dmarc::archive {

// Not written yet: the foundation of issue #14 (streaming decompression).
struct GzipInflater::Impl {};

GzipInflater::GzipInflater(const Limits& /*limits*/, DecompressionBudget& /*budget*/)
    : impl_(std::make_unique<Impl>()) {}
GzipInflater::~GzipInflater() = default;
Status GzipInflater::Feed(std::string_view /*compressed*/, const ChunkSink& /*out*/) {
  return MakeError("streaming gunzip not written yet");
}
Result<std::vector<std::string>> GzipInflater::Finish(const ChunkSink& /*out*/) {
  return MakeError("streaming gunzip not written yet");
}
Result<std::vector<std::string>> GunzipTo(std::string_view /*in*/, const Limits& /*limits*/,
                                          DecompressionBudget& /*budget*/,
                                          const ChunkSink& /*out*/) {
  return MakeError("streaming gunzip not written yet");
}

}  // namespace dmarc::archive
