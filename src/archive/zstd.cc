// Zstandard (libzstd): how the store keeps each report's raw XML (docs/decisions/0008). Level 1
// compresses report XML about as small as gzip's default level, roughly ten times faster.
#include <fmt/format.h>
#include <zstd.h>

#include "archive/archive.h"

namespace dmarc::archive {

namespace {
constexpr int kLevel = 1;

std::string ZstdError(std::size_t code) { return std::string("zstd: ") + ZSTD_getErrorName(code); }

// A compression context at the level and with the checksum of the kept raw XML; null when
// libzstd cannot make one.
ZSTD_CCtx* NewCompressionContext() {
  ZSTD_CCtx* ctx = ZSTD_createCCtx();
  if (ctx) {
    ZSTD_CCtx_setParameter(ctx, ZSTD_c_compressionLevel, kLevel);
    ZSTD_CCtx_setParameter(ctx, ZSTD_c_checksumFlag, 1);
  }
  return ctx;
}

}  // namespace

struct ZstdCompressor::Impl {
  ZSTD_CCtx* ctx = NewCompressionContext();
  ChunkBuffer buffer{ZSTD_CStreamOutSize()};

  // Compresses `in` with `end` (ZSTD_e_continue or ZSTD_e_end), handing the output to `out`.
  Status Run(std::string_view in, ZSTD_EndDirective end, const ChunkSink& out) {
    if (!ctx) return MakeError("zstd: cannot create a compression context");
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    for (;;) {
      ZSTD_outBuffer output{buffer.data(), buffer.size(), 0};
      const std::size_t left = ZSTD_compressStream2(ctx, &output, &input, end);
      if (ZSTD_isError(left)) return MakeError(ZstdError(left));
      if (output.pos > 0) {
        if (Status s = out(std::string_view(buffer.data(), output.pos)); !s) return s;
      }
      const bool done = end == ZSTD_e_end ? left == 0 : input.pos == input.size;
      if (done) return Ok();
    }
  }
};

ZstdCompressor::ZstdCompressor() : impl_(std::make_unique<Impl>()) {}

ZstdCompressor::~ZstdCompressor() { ZSTD_freeCCtx(impl_->ctx); }

Status ZstdCompressor::Feed(std::string_view bytes, const ChunkSink& out) {
  return impl_->Run(bytes, ZSTD_e_continue, out);
}

Status ZstdCompressor::Finish(const ChunkSink& out) { return impl_->Run({}, ZSTD_e_end, out); }

Result<std::string> Zstd(std::string_view in) {
  // One context per thread, kept: a new context clears its tables first, which for a report of a
  // few KB costs more than compressing it. ZSTD_compress2 knows the input's size, so the tables
  // it uses fit it.
  struct Context {
    ZSTD_CCtx* ctx = NewCompressionContext();
    Context() = default;
    ~Context() { ZSTD_freeCCtx(ctx); }
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;
  };
  thread_local Context context;
  if (!context.ctx) return MakeError("zstd: cannot create a compression context");
  // Compressed into room for the worst case, not zero-filled, then copied at its size.
  ChunkBuffer room{ZSTD_compressBound(in.size())};
  const std::size_t n = ZSTD_compress2(context.ctx, room.data(), room.size(), in.data(), in.size());
  if (ZSTD_isError(n)) {
    ZSTD_CCtx_reset(context.ctx, ZSTD_reset_session_only);
    return MakeError(ZstdError(n));
  }
  return std::string(room.data(), n);
}

Result<std::string> Unzstd(std::string_view in, std::size_t max_bytes) {
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  if (!ctx) return MakeError("zstd: cannot create a decompression context");
  std::string out;
  ChunkBuffer buffer{ZSTD_DStreamOutSize()};
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  std::size_t last = 1;  // 0 once a frame ended
  Result<std::string> result = std::string();
  while (input.pos < input.size || last != 0) {
    ZSTD_outBuffer output{buffer.data(), buffer.size(), 0};
    last = ZSTD_decompressStream(ctx, &output, &input);
    if (ZSTD_isError(last)) {
      result = MakeError(ZstdError(last));
      break;
    }
    if (out.size() + output.pos > max_bytes) {
      result = MakeError(fmt::format("zstd: more than {} bytes", max_bytes));
      break;
    }
    out.append(buffer.data(), output.pos);
    // All input read, the decoder flushed what it could, and the frame is not complete.
    if (input.pos == input.size && output.pos < output.size && last != 0) {
      result = MakeError("zstd: truncated stream");
      break;
    }
  }
  ZSTD_freeDCtx(ctx);
  if (!result) return result;
  return out;
}

}  // namespace dmarc::archive
