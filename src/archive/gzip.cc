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

Result<std::string> Gzip(std::string_view in) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return MakeError("cannot initialise zlib");
  }
  std::string out(deflateBound(&zs, static_cast<uLong>(in.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = in.size() > UINT32_MAX ? Z_BUF_ERROR : deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return MakeError("gzip compression failed");
  return out;
}

}  // namespace dmarc::archive
