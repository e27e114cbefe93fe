#include "base/spool.h"

#include <algorithm>
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
  if (!file_) {
    file_ = std::tmpfile();
    if (!file_) return false;
    if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) return false;
    buffer_.clear();
    buffer_.shrink_to_fit();
  }
  return std::fwrite(text.data(), 1, text.size(), file_) == text.size();
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

}  // namespace dmarc
