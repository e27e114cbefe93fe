#include "base/files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace dmarc {

namespace fs = std::filesystem;

namespace {

bool IsMaildir(const fs::path& dir) {
  std::error_code ec;
  return fs::is_directory(dir / "cur", ec) && fs::is_directory(dir / "new", ec) &&
         fs::is_directory(dir / "tmp", ec);
}

bool IsMaildirMetadata(const std::string& name) {
  return name.starts_with("dovecot") || name == "maildirfolder" || name == "subscriptions" ||
         name.starts_with("courier") || name == ".uidvalidity" || name == ".qmail";
}

bool Skipped(const WalkRules& rules, const std::string& name, bool in_maildir) {
  if (rules.skip_hidden && (name.empty() || name[0] == '.')) return true;
  return in_maildir && (name == "tmp" || IsMaildirMetadata(name));
}

void Walk(const fs::path& dir, const WalkRules& rules, int depth, std::vector<std::string>& files,
          std::vector<std::string>& errors) {
  if (depth > rules.max_depth) {
    if (rules.deep_is_error) {
      errors.push_back(
          fmt::format("{}: directory tree deeper than {} levels", dir.string(), rules.max_depth));
    }
    return;
  }
  const bool in_maildir = rules.maildir_aware && IsMaildir(dir);
  std::error_code ec;
  std::vector<fs::directory_entry> entries;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    entries.push_back(*it);
  }
  if (ec) {
    errors.push_back(fmt::format("{}: {}", dir.string(), ec.message()));
    return;
  }
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.path() < b.path(); });
  for (const auto& e : entries) {
    const std::string name = e.path().filename().string();
    if (Skipped(rules, name, in_maildir)) continue;
    std::error_code type_ec;
    if (e.is_directory(type_ec) && !e.is_symlink(type_ec)) {
      const auto& top = rules.skip_top_level;
      if (depth == 0 && std::find(top.begin(), top.end(), name) != top.end()) continue;
      Walk(e.path(), rules, depth + 1, files, errors);
    } else {
      files.push_back(e.path().string());
    }
  }
}

}  // namespace

void WalkFiles(const fs::path& dir, const WalkRules& rules, std::vector<std::string>& files,
               std::vector<std::string>& errors) {
  Walk(dir, rules, 0, files, errors);
}

namespace {

const char* TypeName(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a regular file";
}

// Opens path for ReadInput's rules; the error says why it is not read.
Result<int> OpenInput(const std::string& path, PathOrigin origin, struct stat& st) {
  const bool found = origin == PathOrigin::kFoundInFolder;
  // O_NONBLOCK: opening a FIFO found in a folder must not wait for a writer.
  const int flags = O_RDONLY | O_CLOEXEC | (found ? O_NOFOLLOW | O_NONBLOCK : 0);
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) {
    if (found && errno == ELOOP) {
      return MakeError("a symbolic link: not read (links found in folders are never followed)");
    }
    return MakeError(std::strerror(errno));
  }
  if (::fstat(fd, &st) != 0) {
    const std::string err = std::strerror(errno);
    ::close(fd);
    return MakeError(err);
  }
  if (found && !S_ISREG(st.st_mode)) {
    ::close(fd);
    return MakeError(fmt::format("{}: not read (only regular files found in folders are read)",
                                 TypeName(st.st_mode)));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return MakeError("a directory");
  }
  return fd;
}

}  // namespace

Status CreatePrivateDirectories(const fs::path& dir) {
  std::error_code ec;
  if (dir.empty() || fs::is_directory(dir, ec)) return Ok();
  const fs::path parent = dir.parent_path();
  if (!parent.empty() && parent != dir) {
    if (Status s = CreatePrivateDirectories(parent); !s) return s;
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return MakeError(fmt::format("{}: cannot create: {}", dir.string(), std::strerror(errno)));
  }
  return Ok();
}

Status CreatePrivateFile(const std::string& path) {
  // An existing file is not opened at all: closing any descriptor of a file drops every POSIX
  // lock the process holds on it, and SQLite's locks on an open store are such locks.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) return Ok();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0) return MakeError(fmt::format("{}: cannot create: {}", path, std::strerror(errno)));
  ::close(fd);
  return Ok();
}

bool ReadableByOthers(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)) != 0;
}

namespace {

// The descriptor an input is read through: the opened file, or standard input (never closed).
class InputFd {
 public:
  InputFd() = default;
  ~InputFd() {
    if (fd_ != STDIN_FILENO) ::close(fd_);
  }
  InputFd(const InputFd&) = delete;
  InputFd& operator=(const InputFd&) = delete;

  // Opens `path` ("-": standard input) under ReadInput's rules; st is what was opened.
  Status Open(const std::string& path, PathOrigin origin) {
    if (path == "-") {
      if (::fstat(STDIN_FILENO, &st_) != 0) st_.st_mode = S_IFIFO;
      return Ok();
    }
    auto opened = OpenInput(path, origin, st_);
    if (!opened) return opened.error_value();
    fd_ = *opened;
    return Ok();
  }
  int fd() const { return fd_; }
  const struct stat& st() const { return st_; }

 private:
  int fd_ = STDIN_FILENO;
  struct stat st_ {};
};

// Opens `path` under ReadInput's rules into `in`, refusing a regular file too large before a
// byte is read (a pipe, or a file still growing, is refused when it passes the limit).
Status OpenChecked(InputFd& in, const std::string& path, PathOrigin origin, const Limits& limits) {
  DMARC_TRY(in.Open(path, origin));
  if (S_ISREG(in.st().st_mode) &&
      static_cast<std::uint64_t>(in.st().st_size) > limits.max_input_bytes) {
    return MakeError(
        fmt::format("input larger than the limit of {} bytes", limits.max_input_bytes));
  }
  return Ok();
}

// Reads up to `size` bytes into `dst`, fewer only at the end of the input (a pipe gives a few KB
// per read(), a file may shrink while read).
Result<std::size_t> Fill(int fd, char* dst, std::size_t size) {
  std::size_t got = 0;
  while (got < size) {
    const ssize_t n = ::read(fd, dst + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return MakeError(std::strerror(errno));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  return got;
}

Status ReadChunks(const InputFd& in, const Limits& limits, std::size_t chunk_bytes,
                  const FileChunkSink& sink) {
  std::string buffer(std::max<std::size_t>(chunk_bytes, 1), '\0');
  std::size_t total = 0;
  for (;;) {
    std::size_t filled = 0;
    DMARC_TRY_ASSIGN(filled, Fill(in.fd(), buffer.data(), buffer.size()));
    total += filled;
    if (total > limits.max_input_bytes) {
      return MakeError(
          fmt::format("input larger than the limit of {} bytes", limits.max_input_bytes));
    }
    if (filled > 0) DMARC_TRY(sink(std::string_view(buffer.data(), filled)));
    if (filled < buffer.size()) return Ok();
  }
}

}  // namespace

Status ReadFileChunks(const std::string& path, PathOrigin origin, const Limits& limits,
                      std::size_t chunk_bytes, const FileChunkSink& sink) {
  InputFd in;
  DMARC_TRY(OpenChecked(in, path, origin, limits));
  return ReadChunks(in, limits, chunk_bytes, sink);
}

Result<std::string> ReadInput(const std::string& path, const Limits& limits, PathOrigin origin) {
  InputFd in;
  DMARC_TRY(OpenChecked(in, path, origin, limits));
  std::string data;
  // A regular file is read straight into a buffer of its size (what it holds then); a pipe grows
  // as it comes.
  if (S_ISREG(in.st().st_mode)) {
    data.resize(static_cast<std::size_t>(in.st().st_size));
    std::size_t got = 0;
    DMARC_TRY_ASSIGN(got, Fill(in.fd(), data.data(), data.size()));
    data.resize(got);
    return data;
  }
  DMARC_TRY(ReadChunks(in, limits, 65536, [&data](std::string_view chunk) {
    data.append(chunk);
    return Ok();
  }));
  return data;
}

}  // namespace dmarc
