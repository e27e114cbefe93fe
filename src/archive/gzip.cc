#include <fmt/format.h>
#include <zlib.h>

#include "archive/archive.h"

namespace dmarc::archive {

namespace {

// Checks the size and ratio limits for `produced` output bytes from `consumed` input bytes.
std::string LimitViolation(std::size_t produced, std::size_t consumed, const Limits& limits,
                           DecompressionBudget& budget) {
  if (produced > limits.max_decompressed_bytes) {
    if (produced > budget.left()) budget.Exhaust();
    return fmt::format("decompressed size exceeds the limit of {} bytes (compression bomb?)",
                       limits.max_decompressed_bytes);
  }
  if (produced > budget.left()) return budget.Exhaust();
  if (produced > Limits::kRatioGraceBytes && consumed > 0 &&
      produced / consumed > limits.max_compression_ratio) {
    return fmt::format("compression ratio exceeds {}:1 (compression bomb?)",
                       limits.max_compression_ratio);
  }
  return {};
}

struct Inflater {
  z_stream zs{};
  bool ready = false;
  Inflater() { ready = inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK; }
  ~Inflater() {
    if (ready) inflateEnd(&zs);
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
};

}  // namespace

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
  // One byte over the smaller bound tells that the bound was passed.
  const std::size_t cap = std::min(limits.max_decompressed_bytes, budget.left()) + 1;
  Inflater inf;
  if (!inf.ready) return MakeError("cannot initialise zlib");
  Decompressed out;
  std::string& data = out.data;
  data.resize(std::min<std::size_t>(std::max<std::size_t>(in.size() * 4, 4096), cap));
  z_stream& zs = inf.zs;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(std::min<std::size_t>(in.size(), UINT32_MAX));
  std::size_t produced = 0;
  int members = 0;
  for (;;) {
    if (produced == data.size()) {
      if (produced >= cap) break;
      data.resize(std::min(data.size() * 2, cap));
    }
    zs.next_out = reinterpret_cast<Bytef*>(data.data() + produced);
    zs.avail_out = static_cast<uInt>(data.size() - produced);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    produced = data.size() - zs.avail_out;
    const std::size_t consumed = in.size() - zs.avail_in;
    if (auto v = LimitViolation(produced, consumed, limits, budget); !v.empty()) {
      return MakeError(v);
    }
    if (rc == Z_STREAM_END) {
      ++members;
      // Another gzip member follows: continue, as gzip -d does.
      if (zs.avail_in >= 2 && zs.next_in[0] == 0x1F && zs.next_in[1] == 0x8B) {
        inflateReset(&zs);
        continue;
      }
      if (zs.avail_in > 0) {
        out.warnings.push_back(
            fmt::format("ignored {} bytes of trailing data after the gzip stream", zs.avail_in));
      }
      break;
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
      return MakeError(produced == 0 && members == 0 ? "truncated gzip stream (no data)"
                                                     : "truncated gzip stream");
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return MakeError(fmt::format("corrupt gzip stream: {}", zs.msg ? zs.msg : "inflate error"));
    }
  }
  if (auto v = LimitViolation(produced, in.size(), limits, budget); !v.empty()) {
    return MakeError(v);
  }
  data.resize(produced);
  budget.Spend(produced);
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
