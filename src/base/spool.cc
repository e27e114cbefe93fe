#include "base/spool.h"

#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace dmarc {

Spool::~Spool() {
  if (file_) std::fclose(file_);
}

bool Spool::Add(std::string_view text) {
  if (text.empty()) return true;
  size_ += text.size();
  if (!file_ && buffer_.size() + text.size() <= memory_bytes_) {
    buffer_ += text;
    return true;
  }
  if (!file_ && !MoveToFile()) return false;
  return std::fwrite(text.data(), 1, text.size(), file_) == text.size();
}

bool Spool::MoveToFile() {
  if (file_) return true;
  file_ = std::tmpfile();
  if (!file_) return false;
  constexpr std::size_t kFileBufferBytes = 256u << 10;
  file_buffer_ = std::make_unique<char[]>(kFileBufferBytes);
  std::setvbuf(file_, file_buffer_.get(), _IOFBF, kFileBufferBytes);
  if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) {
    std::fclose(file_);
    file_ = nullptr;
    return false;
  }
  std::string().swap(buffer_);
  return true;
}

bool Spool::Rewind() {
  read_at_ = 0;
  return !file_ || (std::fflush(file_) == 0 && std::fseek(file_, 0, SEEK_SET) == 0);
}

std::size_t Spool::Read(char* to, std::size_t n) {
  if (file_) return std::fread(to, 1, n, file_);
  n = std::min(n, buffer_.size() - read_at_);
  std::memcpy(to, buffer_.data() + read_at_, n);
  read_at_ += n;
  return n;
}

bool Spool::ReadFailed() const { return file_ && std::ferror(file_); }

bool Spool::CopyTo(FILE* out, bool skip_first, std::size_t n) {
  char chunk[1 << 16];
  while (n > 0) {
    const std::size_t got = Read(chunk, std::min(n, sizeof chunk));
    if (got == 0) break;
    n -= std::min(n, got);
    const std::size_t skip = skip_first ? 1 : 0;
    skip_first = false;
    std::fwrite(chunk + skip, 1, got - skip, out);
  }
  return !ReadFailed();
}

SpillFile::~SpillFile() {
  if (file_) std::fclose(file_);
}

std::optional<SpillFile::Piece> SpillFile::Add(std::string_view text) {
  Piece piece;
  int fd = -1;
  {
    std::lock_guard lock(mu_);
    if (!file_ && !(file_ = std::tmpfile())) return std::nullopt;
    fd = fileno(file_);
    piece = {end_, text.size()};
    end_ += text.size();
    ++waiting_;  // the file is not emptied while this piece is being written
  }
  // Pieces do not overlap: their writes need no lock.
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n =
        ::pwrite(fd, text.data() + done, text.size() - done, static_cast<off_t>(piece.at + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Release();
      return std::nullopt;
    }
    done += static_cast<std::size_t>(n);
  }
  return piece;
}

bool SpillFile::TakeBack(const Piece& piece, const std::function<void(std::string_view)>& use) {
  int fd = -1;
  {
    std::lock_guard lock(mu_);
    fd = file_ ? fileno(file_) : -1;
  }
  char chunk[1 << 16];
  std::uint64_t done = 0;
  bool ok = fd >= 0 || piece.size == 0;
  while (ok && done < piece.size) {
    const ssize_t n = ::pread(fd, chunk, std::min<std::uint64_t>(sizeof chunk, piece.size - done),
                              static_cast<off_t>(piece.at + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = false;
      break;
    }
    use(std::string_view(chunk, static_cast<std::size_t>(n)));
    done += static_cast<std::uint64_t>(n);
  }
  Release();
  return ok;
}

SpillFile::Sent SpillFile::SendTo(const Piece& piece, int out, std::uint64_t skip) {
  int fd = -1;
  {
    std::lock_guard lock(mu_);
    fd = file_ ? fileno(file_) : -1;
  }
  if (fd < 0 && piece.size > 0) return Sent::kUnsupported;
  auto offset = static_cast<off_t>(piece.at + std::min(skip, piece.size));
  const auto end = static_cast<off_t>(piece.at + piece.size);
  bool sent_any = false;
  while (offset < end) {
    const ssize_t n = ::sendfile(out, fd, &offset, static_cast<std::size_t>(end - offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && !sent_any && (errno == EINVAL || errno == ENOSYS)) return Sent::kUnsupported;
    if (n <= 0) {
      Release();
      return Sent::kFailed;
    }
    sent_any = true;
  }
  Release();
  return Sent::kDone;
}

void SpillFile::Release() {
  std::lock_guard lock(mu_);
  if (--waiting_ == 0 && file_) {
    // Nothing waits: the space is given back and pieces start over at the beginning.
    if (::ftruncate(fileno(file_), 0) == 0) end_ = 0;
  }
}

}  // namespace dmarc
