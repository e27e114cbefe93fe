// Spool: bytes held until they can be used (a streamed report's encoded records until its
// header is known, its records until the store reads them): in memory up to a few MiB, then in an
// unnamed temporary file, so memory does not grow with the input.
//
// Thread-safety: one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace dmarc {

class Spool {
 public:
  // Bytes kept in memory before the rest goes to a temporary file.
  explicit Spool(std::size_t memory_bytes = kDefaultMemoryBytes) : memory_bytes_(memory_bytes) {}
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;
  ~Spool();

  // Appends; false when the temporary file could not be made or written (errno says why).
  bool Add(std::string_view text);
  // Reading back, from the start: Rewind, then Read until it returns less than asked. Rewind
  // again to read it all once more.
  bool Rewind();
  std::size_t Read(char* to, std::size_t n);
  bool ReadFailed() const;
  // Bytes written in all, and those held in memory (not moved to the temporary file).
  std::size_t Size() const { return size_; }
  std::size_t MemoryBytes() const { return buffer_.size(); }
  // Copies n bytes (all that is left: SIZE_MAX) to `out`; with skip_first, the first byte is
  // dropped (the first fragment's leading ",").
  bool CopyTo(FILE* out, bool skip_first = false, std::size_t n = SIZE_MAX);
  // Moves what is held in memory to the temporary file (made now if need be), before reading;
  // false (and kept in memory) when the file cannot be made or written.
  bool MoveToFile();

  static constexpr std::size_t kDefaultMemoryBytes = 8u << 20;

 private:
  std::size_t memory_bytes_;
  std::string buffer_;
  std::size_t read_at_ = 0;
  std::size_t size_ = 0;
  FILE* file_ = nullptr;
  // The temporary file's stdio buffer (stdio's own is 4 KiB: a system call every 4 KiB).
  std::unique_ptr<char[]> file_buffer_;
};

// SpillFile: pieces of text set aside by several threads at once in one unnamed temporary file
// (results that wait their turn beyond a memory budget: pipeline::RunOrdered's spill), each read
// back once. The file is emptied whenever no piece waits in it, so it holds at most what waits.
//
// Thread-safety: Add, TakeBack and SendTo from any thread.
class SpillFile {
 public:
  struct Piece {
    std::uint64_t at = 0, size = 0;
  };
  SpillFile() = default;
  SpillFile(const SpillFile&) = delete;
  SpillFile& operator=(const SpillFile&) = delete;
  ~SpillFile();

  // Writes text to the file; nothing when the file cannot be made or written (errno says why:
  // the caller keeps the text).
  std::optional<Piece> Add(std::string_view text);
  // Reads a piece back in order, in chunks given to `use`, and releases it; false when it could
  // not be read whole.
  bool TakeBack(const Piece& piece, const std::function<void(std::string_view)>& use);
  // Copies a piece but for its first `skip` bytes to the file descriptor `out` within the kernel
  // (sendfile: no copy through this process), and releases it. kUnsupported: `out` cannot take
  // it that way, nothing was written and the piece is still there (TakeBack it).
  enum class Sent { kDone, kUnsupported, kFailed };
  Sent SendTo(const Piece& piece, int out, std::uint64_t skip = 0);

 private:
  void Release();

  std::mutex mu_;
  FILE* file_ = nullptr;
  std::uint64_t end_ = 0;  // where the next piece goes
  std::size_t waiting_ = 0;
};

}  // namespace dmarc
