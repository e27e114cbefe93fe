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

Result<std::string> ReadInput(const std::string& path, const Limits& limits, PathOrigin origin) {
  const bool is_stdin = path == "-";
  struct stat st {};
  int fd = STDIN_FILENO;
  if (is_stdin) {
    if (::fstat(fd, &st) != 0) st.st_mode = S_IFIFO;
  } else {
    auto opened = OpenInput(path, origin, st);
    if (!opened) return MakeError(opened.error());
    fd = *opened;
  }
  std::string data;
  // Regular files are read straight into a buffer of their size; pipes grow as they come.
  if (S_ISREG(st.st_mode)) {
    if (static_cast<std::uint64_t>(st.st_size) > limits.max_input_bytes) {
      if (!is_stdin) ::close(fd);
      return MakeError(
          fmt::format("input larger than the limit of {} bytes", limits.max_input_bytes));
    }
    data.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < data.size()) {
      const ssize_t n = ::read(fd, data.data() + got, data.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const std::string err = std::strerror(errno);
        if (!is_stdin) ::close(fd);
        return MakeError(err);
      }
      if (n == 0) break;  // the file shrank while being read
      got += static_cast<std::size_t>(n);
    }
    data.resize(got);
    if (!is_stdin) ::close(fd);
    return data;
  }
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string err = std::strerror(errno);
      if (!is_stdin) ::close(fd);
      return MakeError(err);
    }
    if (n == 0) break;
    if (data.size() + static_cast<std::size_t>(n) > limits.max_input_bytes) {
      if (!is_stdin) ::close(fd);
      return MakeError(
          fmt::format("input larger than the limit of {} bytes", limits.max_input_bytes));
    }
    data.append(buf, static_cast<std::size_t>(n));
  }
  if (!is_stdin) ::close(fd);
  return data;
}

}  // namespace dmarc
