// The one gzip inflate loop of the project: GzipInflater. Gunzip (gzip.cc) collects its output.
#include <fmt/format.h>
#include <zlib.h>

#include <optional>
#include <utility>

#include "archive/archive.h"

namespace dmarc::archive {

namespace {

// Where the inflater is in the input: inside a gzip member, right after one (the next two bytes
// tell whether another member follows), or in trailing data after the last member (ignored).
enum class Phase { kMember, kBetween, kTrailing };

constexpr unsigned char kGzipMagic0 = 0x1F;
constexpr unsigned char kGzipMagic1 = 0x8B;

}  // namespace

struct GzipInflater::Impl {
  Limits limits;
  DecompressionBudget& budget;
  z_stream zs{};
  bool ready = false;
  Phase phase = Phase::kMember;
  std::string head;  // the bytes seen so far after a member's end (at most 2)
  std::size_t trailing = 0;
  std::size_t produced = 0;
  std::size_t consumed = 0;  // compressed bytes taken by zlib, every member together
  int members = 0;
  ChunkBuffer buffer;  // output not yet handed out
  std::size_t filled = 0;
  std::optional<Error> failed;  // once set, every later call returns it

  Impl(const Limits& l, DecompressionBudget& b) : limits(l), budget(b) {
    ready = inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK;
  }
  ~Impl() {
    if (ready) inflateEnd(&zs);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  Error Fail(Error e) {
    failed = e;
    return e;
  }
  std::string LimitViolation(std::size_t fresh) const;
  Status Flush(const ChunkSink& out);
  Status Inflate(std::string_view in, const ChunkSink& out);
  Status InflateSome(const ChunkSink& out, int* rc);
  Status InflateMember(std::string_view& in, const ChunkSink& out);
  std::string_view AfterMember(std::string_view in);
};

// Checks the size and ratio limits once `fresh` more output bytes were produced (this->produced
// counts them already); the budget has not been charged for them yet.
std::string GzipInflater::Impl::LimitViolation(std::size_t fresh) const {
  if (produced > limits.max_decompressed_bytes) {
    if (fresh > budget.left()) budget.Exhaust();
    return fmt::format("decompressed size exceeds the limit of {} bytes (compression bomb?)",
                       limits.max_decompressed_bytes);
  }
  if (fresh > budget.left()) return budget.Exhaust();
  if (produced > Limits::kRatioGraceBytes && consumed > 0 &&
      produced / consumed > limits.max_compression_ratio) {
    return fmt::format("compression ratio exceeds {}:1 (compression bomb?)",
                       limits.max_compression_ratio);
  }
  return {};
}

Status GzipInflater::Impl::Flush(const ChunkSink& out) {
  if (filled == 0) return Ok();
  const std::size_t n = filled;
  filled = 0;
  if (Status s = out(std::string_view(buffer.data(), n)); !s) return Fail(s.error_value());
  return Ok();
}

// One inflate() call into the free part of the buffer, with the limits checked on its output.
Status GzipInflater::Impl::InflateSome(const ChunkSink& out, int* rc) {
  if (filled == buffer.size() && !Flush(out)) return *failed;
  zs.next_out = reinterpret_cast<Bytef*>(buffer.data() + filled);
  zs.avail_out = static_cast<uInt>(buffer.size() - filled);
  const uInt in_before = zs.avail_in;
  const uInt out_before = zs.avail_out;
  *rc = inflate(&zs, Z_NO_FLUSH);
  const std::size_t fresh = out_before - zs.avail_out;
  produced += fresh;
  consumed += in_before - zs.avail_in;
  if (auto v = LimitViolation(fresh); !v.empty()) return Fail(MakeError(v));
  budget.Spend(fresh);
  filled += fresh;
  return Ok();
}

// Takes the bytes after a member's end: the magic of a next member (inflate starts over on it)
// or trailing data. Returns what is left to inflate.
std::string_view GzipInflater::Impl::AfterMember(std::string_view in) {
  while (phase == Phase::kBetween && head.size() < 2 && !in.empty()) {
    head.push_back(in.front());
    in.remove_prefix(1);
  }
  if (phase == Phase::kBetween && head.size() == 2) {
    if (static_cast<unsigned char>(head[0]) == kGzipMagic0 &&
        static_cast<unsigned char>(head[1]) == kGzipMagic1) {
      // Another gzip member follows: continue, as gzip -d does.
      inflateReset(&zs);
      phase = Phase::kMember;
    } else {
      phase = Phase::kTrailing;
      trailing = head.size();
    }
  }
  if (phase == Phase::kTrailing) {
    trailing += in.size();
    return {};
  }
  return in;
}

// Inflates `in` up to its end or to the end of the current member; `in` is left with what
// follows that end.
Status GzipInflater::Impl::InflateMember(std::string_view& in, const ChunkSink& out) {
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  for (;;) {
    int rc = Z_OK;
    if (Status s = InflateSome(out, &rc); !s) return s;
    in = std::string_view(reinterpret_cast<const char*>(zs.next_in), zs.avail_in);
    if (rc == Z_STREAM_END) {
      ++members;
      phase = Phase::kBetween;
      return Ok();
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return Fail(
          MakeError(fmt::format("corrupt gzip stream: {}", zs.msg ? zs.msg : "inflate error")));
    }
    // Input used up, and no output held back by zlib (it stopped with room to spare).
    if (zs.avail_in == 0 && zs.avail_out > 0) return Ok();
  }
}

// A loop, not a recursion: an input may hold any number of (empty) members.
Status GzipInflater::Impl::Inflate(std::string_view in, const ChunkSink& out) {
  for (;;) {
    if (phase != Phase::kMember) {
      in = AfterMember(in);
      if (phase != Phase::kMember) return Ok();
      // The member's magic, perhaps split between two Feed calls, was held back in `head`.
      const std::string magic = std::exchange(head, {});
      std::string_view m(magic);
      if (Status s = InflateMember(m, out); !s) return s;
    }
    if (in.empty()) return Ok();
    if (Status s = InflateMember(in, out); !s) return s;
    if (phase == Phase::kMember) return Ok();
  }
}

GzipInflater::GzipInflater(const Limits& limits, DecompressionBudget& budget)
    : impl_(std::make_unique<Impl>(limits, budget)) {}
GzipInflater::~GzipInflater() = default;

Status GzipInflater::Feed(std::string_view compressed, const ChunkSink& out) {
  Impl& s = *impl_;
  if (s.failed) return *s.failed;
  if (!s.ready) return s.Fail(MakeError("cannot initialise zlib"));
  // zlib counts in 32 bits: a larger input goes in slices.
  constexpr std::size_t kSlice = std::size_t{1} << 30;
  do {
    const std::string_view slice = compressed.substr(0, kSlice);
    compressed.remove_prefix(slice.size());
    if (Status st = s.Inflate(slice, out); !st) return st;
  } while (!compressed.empty());
  return Ok();
}

Result<std::vector<std::string>> GzipInflater::Finish(const ChunkSink& out) {
  Impl& s = *impl_;
  if (s.failed) return *s.failed;
  if (!s.ready) return s.Fail(MakeError("cannot initialise zlib"));
  if (s.phase == Phase::kMember) {
    return s.Fail(MakeError(s.produced == 0 && s.members == 0 ? "truncated gzip stream (no data)"
                                                              : "truncated gzip stream"));
  }
  std::vector<std::string> warnings;
  const std::size_t ignored = s.phase == Phase::kTrailing ? s.trailing : s.head.size();
  if (ignored > 0) {
    warnings.push_back(
        fmt::format("ignored {} bytes of trailing data after the gzip stream", ignored));
  }
  if (Status st = s.Flush(out); !st) return st.error_value();
  return warnings;
}

Result<std::vector<std::string>> GunzipTo(std::string_view in, const Limits& limits,
                                          DecompressionBudget& budget, const ChunkSink& out) {
  GzipInflater inflater(limits, budget);
  if (Status s = inflater.Feed(in, out); !s) return s.error_value();
  return inflater.Finish(out);
}

}  // namespace dmarc::archive
