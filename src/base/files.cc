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
    } else if (e.is_regular_file(type_ec)) {
      files.push_back(e.path().string());
    }
  }
}

}  // namespace

void WalkFiles(const fs::path& dir, const WalkRules& rules, std::vector<std::string>& files,
               std::vector<std::string>& errors) {
  Walk(dir, rules, 0, files, errors);
}

Result<std::string> ReadInput(const std::string& path, const Limits& limits) {
  const bool is_stdin = path == "-";
  const int fd = is_stdin ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return MakeError(std::strerror(errno));
  std::string data;
  // Regular files are read straight into a buffer of their size; pipes grow as they come.
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
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
