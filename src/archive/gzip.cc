#include <fmt/format.h>
#include <zlib.h>

#include "archive/archive.h"

namespace dmarc::archive {

std::string DecompressionBudget::Exhaust() {
  exhausted_ = true;
  return fmt::format(
      "decompressed size exceeds the limit of {} bytes for the whole input, every level of "
      "nesting together (--max-report-bytes; compression bomb?)",
      total_);
}

Result<Decompressed> Gunzip(std::string_view in, const Limits& limits) {
  DecompressionBudget budget(limits.max_decompressed_bytes);
  return Gunzip(in, limits, budget);
}

Result<Decompressed> Gunzip(std::string_view in, const Limits& limits,
                            DecompressionBudget& budget) {
  Decompressed out;
  // A first guess at the size, which the output may not pass anyway.
  out.data.reserve(std::min(
      {std::max<std::size_t>(in.size() * 4, 4096), limits.max_decompressed_bytes, budget.left()}));
  auto warnings = GunzipTo(in, limits, budget, [&out](std::string_view chunk) {
    out.data.append(chunk);
    return Ok();
  });
  if (!warnings) return std::move(warnings).error_value();
  out.warnings = std::move(warnings).value();
  return out;
}

struct GzipDeflater::Impl {
  z_stream zs{};
  bool ok = false;
  ChunkBuffer out;

  // Deflates `in` with `flush` until zlib wants more input (or, finishing, is done).
  Status Run(std::string_view in, int flush, const ChunkSink& sink) {
    if (!ok) return MakeError("gzip compression failed: zlib not initialised");
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    for (;;) {
      zs.next_out = reinterpret_cast<Bytef*>(out.data());
      zs.avail_out = static_cast<uInt>(out.size());
      const int rc = deflate(&zs, flush);
      if (rc == Z_STREAM_ERROR) return MakeError("gzip compression failed");
      const std::size_t made = out.size() - zs.avail_out;
      if (made > 0) DMARC_TRY(sink(std::string_view(out.data(), made)));
      if (flush == Z_FINISH ? rc == Z_STREAM_END : zs.avail_in == 0 && zs.avail_out != 0) {
        return Ok();
      }
    }
  }
};

GzipDeflater::GzipDeflater() : impl_(std::make_unique<Impl>()) {
  impl_->ok = deflateInit2(&impl_->zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                           Z_DEFAULT_STRATEGY) == Z_OK;
}

GzipDeflater::~GzipDeflater() {
  if (impl_->ok) deflateEnd(&impl_->zs);
}

Status GzipDeflater::Feed(std::string_view bytes, const ChunkSink& out) {
  // zlib counts input in 32 bits: large pieces go in parts.
  constexpr std::size_t kMaxPiece = 1u << 30;
  for (std::size_t at = 0; at < bytes.size(); at += kMaxPiece) {
    DMARC_TRY(impl_->Run(bytes.substr(at, kMaxPiece), Z_NO_FLUSH, out));
  }
  return Ok();
}

Status GzipDeflater::Finish(const ChunkSink& out) { return impl_->Run({}, Z_FINISH, out); }

Result<std::string> Gzip(std::string_view in) {
  std::string out;
  out.reserve(in.size() / 4 + 64);
  GzipDeflater deflater;
  auto append = [&out](std::string_view chunk) {
    out.append(chunk);
    return Ok();
  };
  if (Status s = deflater.Feed(in, append); !s) return MakeError(s.error());
  if (Status s = deflater.Finish(append); !s) return MakeError(s.error());
  return out;
}

}  // namespace dmarc::archive
