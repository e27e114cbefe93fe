// Decompression of report containers: gzip and zip, recognised by magic bytes, with limits on
// decompressed size, compression ratio and entry count. Nothing is ever written to disk, so zip
// entry names are labels only (a "../" in a name cannot escape anywhere).
//
// Thread-safety: all functions are reentrant.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/limits.h"
#include "base/result.h"

namespace dmarc::archive {

// What a byte string is, judged from its first bytes only.
enum class Kind {
  kEmpty,  // zero bytes or only whitespace
  kGzip,   // 1F 8B
  kZip,    // PK\3\4 or PK\5\6 (empty archive)
  kXml,    // '<' after an optional BOM and whitespace
  kJson,   // '{' or '[' after an optional BOM and whitespace
  kMbox,   // "From " at the very start
  kMail,   // an RFC 5322 header field at the start
  kUnknown,
};

Kind Sniff(std::string_view bytes);
const char* KindName(Kind kind);

// What decompression may still produce for one input, shared by every level of nesting (a zip in
// a gzip in a mail ...), so that nesting cannot multiply Limits::max_decompressed_bytes: each
// archive read with this budget spends from it. Once an archive wanted more than was left,
// exhausted() tells the caller that the input as a whole is over the limit.
class DecompressionBudget {
 public:
  explicit DecompressionBudget(std::size_t bytes) : total_(bytes), left_(bytes) {}
  std::size_t total() const { return total_; }
  std::size_t left() const { return left_; }
  bool exhausted() const { return exhausted_; }
  void Spend(std::size_t bytes) { left_ -= std::min(bytes, left_); }
  // Records that an archive wanted more than left(); returns the error that says so.
  std::string Exhaust();

 private:
  std::size_t total_;
  std::size_t left_;
  bool exhausted_ = false;
};

struct Decompressed {
  std::string data;
  std::vector<std::string> warnings;  // recoveries, e.g. trailing garbage after the stream
};

// Inflates a gzip stream (several concatenated members are joined, as gzip(1) does). The output
// is spent from `budget` (the first form: a budget of limits.max_decompressed_bytes of its own).
Result<Decompressed> Gunzip(std::string_view in, const Limits& limits);
Result<Decompressed> Gunzip(std::string_view in, const Limits& limits, DecompressionBudget& budget);
// Compresses bytes into one gzip member (what Gunzip reads back).
Result<std::string> Gzip(std::string_view in);

struct ZipEntry {
  std::string name;
  std::string data;
};

// Calls visit() for every regular file entry, in archive order. Entries that cannot be read
// (encrypted, corrupt, over a limit) are reported through problem() with the entry name and
// the walk continues; an archive that cannot be opened at all is an error.
// Returns the number of entries visited. Every entry's bytes are spent from `budget` (the
// first form: a budget of limits.max_decompressed_bytes for the archive), also while visit()
// unpacks what an entry holds; once the budget is exhausted the walk ends with that error.
using ZipVisitor = std::function<void(ZipEntry&& entry)>;
using ZipProblem = std::function<void(const std::string& entry_name, const std::string& reason)>;
Result<std::size_t> ForEachZipEntry(std::string_view in, const Limits& limits,
                                    const ZipVisitor& visit, const ZipProblem& problem);
Result<std::size_t> ForEachZipEntry(std::string_view in, const Limits& limits,
                                    DecompressionBudget& budget, const ZipVisitor& visit,
                                    const ZipProblem& problem);

// Incremental gzip inflation: compressed bytes go in as they are read, decompressed bytes come
// out through `out` in pieces of at most kStreamChunkBytes, so neither side is held whole. Same
// checks as Gunzip (concatenated members joined, trailing data after the last member ignored
// with a warning, size and ratio limits, the shared budget spent as output is produced).
constexpr std::size_t kStreamChunkBytes = 256 * 1024;
using ChunkSink = std::function<Status(std::string_view chunk)>;

// Room for one chunk of output, allocated at its first use and not zero-filled: only what zlib,
// libzip or zstd wrote into it is read back. (Zero-filling 256 KiB per archive and per gzip stream
// was 13 % of the instructions of importing small reports.)
class ChunkBuffer {
 public:
  explicit ChunkBuffer(std::size_t size = kStreamChunkBytes) : size_(size) {}
  char* data() {
    if (!bytes_) bytes_ = std::make_unique_for_overwrite<char[]>(size_);
    return bytes_.get();
  }
  std::size_t size() const { return size_; }

 private:
  std::size_t size_;
  std::unique_ptr<char[]> bytes_;
};

class GzipInflater {
 public:
  GzipInflater(const Limits& limits, DecompressionBudget& budget);
  ~GzipInflater();
  GzipInflater(const GzipInflater&) = delete;
  GzipInflater& operator=(const GzipInflater&) = delete;
  // The next compressed bytes. An error from `out` is returned as it is; any other error is the
  // stream's (corrupt, over a limit: budget().exhausted() tells the input is over its budget).
  Status Feed(std::string_view compressed, const ChunkSink& out);
  // No more input: an error when the stream is truncated. Returns the warnings (recoveries).
  Result<std::vector<std::string>> Finish(const ChunkSink& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Gunzip into a sink: the same as GzipInflater fed `in` at once, then finished.
Result<std::vector<std::string>> GunzipTo(std::string_view in, const Limits& limits,
                                          DecompressionBudget& budget, const ChunkSink& out);

// Gzip compression as the bytes come: one gzip member, handed out in pieces (what Gzip makes,
// without holding the input or the output whole).
class GzipDeflater {
 public:
  GzipDeflater();
  ~GzipDeflater();
  GzipDeflater(const GzipDeflater&) = delete;
  GzipDeflater& operator=(const GzipDeflater&) = delete;
  // The next bytes; compressed output goes to `out` as it is made (an error from it is returned).
  Status Feed(std::string_view bytes, const ChunkSink& out);
  // The end of the member (the rest of the output and the trailer). Feed no more afterwards.
  Status Finish(const ChunkSink& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Zstandard compression (level 1, with a checksum) as the bytes come, handed out in pieces: how
// the store keeps a report's raw XML. Zstd is the same at once.
class ZstdCompressor {
 public:
  ZstdCompressor();
  ~ZstdCompressor();
  ZstdCompressor(const ZstdCompressor&) = delete;
  ZstdCompressor& operator=(const ZstdCompressor&) = delete;
  // The next bytes; compressed output goes to `out` as it is made (an error from it is returned).
  Status Feed(std::string_view bytes, const ChunkSink& out);
  // The end of the frame. Feed no more afterwards.
  Status Finish(const ChunkSink& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};
Result<std::string> Zstd(std::string_view in);
// Decompresses Zstandard frames (one or more), refusing to produce more than max_bytes; a
// truncated or corrupt stream is an error.
Result<std::string> Unzstd(std::string_view in, std::size_t max_bytes);

// ForEachZipEntry with each entry's bytes streamed instead of collected: begin(name) before an
// entry's bytes (returning false skips the entry), chunk(bytes) for each piece, end(name) after
// its last piece. An entry refused up front (encrypted, declaring a size over a limit) goes to
// problem() without begin(); one that turns out corrupt or over a limit midway goes to problem()
// after some of its bytes were handed out, without end() (the consumer drops what it got of it).
// Limits apply to the bytes actually produced (declared sizes are not trusted), and nothing over
// a limit reaches chunk(). An error returned by chunk() ends the walk and is returned as it is.
// Same limits, budget and walk as ForEachZipEntry, which is written on it.
struct ZipStreamVisitor {
  std::function<bool(const std::string& name)> begin;
  ChunkSink chunk;
  std::function<void(const std::string& name)> end;
};
Result<std::size_t> ForEachZipEntryStreamed(std::string_view in, const Limits& limits,
                                            DecompressionBudget& budget,
                                            const ZipStreamVisitor& visit,
                                            const ZipProblem& problem);

}  // namespace dmarc::archive
