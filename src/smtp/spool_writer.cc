// The Maildir spool: a mail is in new/ only once it is complete and on disk.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "base/files.h"
#include "smtp/internal.h"

namespace dmarc::smtp::internal {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kFlushBytes = 64 * 1024;

std::string Errno(const std::string& what) {
  return fmt::format("{}: {}", what, std::strerror(errno));
}

// Maildir's unique name: SECONDS.MMICROSECONDSPPIDQCOUNTER.HOST.
std::string UniqueName(const std::string& hostname) {
  static std::atomic<std::uint64_t> counter{0};
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
  std::string host = hostname;
  for (char& c : host) {
    if (c == '/' || c == ':') c = '_';
  }
  return fmt::format("{}.M{}P{}Q{}.{}", us / 1000000, us % 1000000, ::getpid(), ++counter, host);
}

Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return MakeError(Errno(dir));
  const int r = ::fsync(fd);
  ::close(fd);
  return r == 0 ? Ok() : MakeError(Errno("fsync " + dir));
}

}  // namespace

Status PrepareSpool(const std::string& spool) {
  for (const char* sub : {"tmp", "new", "cur"}) {
    DMARC_TRY(CreatePrivateDirectories(fs::path(spool) / sub));
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(spool) / "tmp", ec))
    fs::remove(e.path(), ec);
  return Ok();
}

Status SpoolWriter::Open(const std::string& hostname) {
  name_ = UniqueName(hostname);
  const std::string path = spool_ + "/tmp/" + name_;
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd_ < 0) return MakeError(Errno(path));
  return Ok();
}

Status SpoolWriter::Flush() {
  std::string_view left = pending_;
  while (!left.empty()) {
    const ssize_t n = ::write(fd_, left.data(), left.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return MakeError(Errno(spool_ + "/tmp/" + name_));
    left.remove_prefix(static_cast<std::size_t>(n));
  }
  pending_.clear();
  return Ok();
}

Status SpoolWriter::Add(std::string_view text) {
  pending_.append(text);
  return pending_.size() >= kFlushBytes ? Flush() : Ok();
}

Status SpoolWriter::Commit() {
  DMARC_TRY(Flush());
  const std::string from = spool_ + "/tmp/" + name_;
  if (::fsync(fd_) != 0) return MakeError(Errno("fsync " + from));
  ::close(fd_);
  fd_ = -1;
  const std::string to = spool_ + "/new/" + name_;
  if (::rename(from.c_str(), to.c_str()) != 0) return MakeError(Errno("rename " + from));
  name_.clear();  // nothing left to remove
  return SyncDirectory(spool_ + "/new");
}

void SpoolWriter::Abort() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!name_.empty()) ::unlink((spool_ + "/tmp/" + name_).c_str());
  name_.clear();
  pending_.clear();
}

}  // namespace dmarc::smtp::internal
