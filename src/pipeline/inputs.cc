#include "pipeline/inputs.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace dmarc::pipeline {

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

void Walk(const fs::path& dir, std::vector<std::string>& files, std::vector<std::string>& errors,
          int depth) {
  if (depth > 64) {
    errors.push_back(fmt::format("{}: directory tree deeper than 64 levels", dir.string()));
    return;
  }
  const bool maildir = IsMaildir(dir);
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
    if (maildir && (name == "tmp" || IsMaildirMetadata(name))) continue;
    std::error_code type_ec;
    if (e.is_directory(type_ec) && !e.is_symlink(type_ec)) {
      Walk(e.path(), files, errors, depth + 1);
    } else if (e.is_regular_file(type_ec)) {
      files.push_back(e.path().string());
    }
  }
}

}  // namespace

InputList ExpandInputs(const std::vector<std::string>& args) {
  InputList list;
  for (const auto& arg : args) {
    if (arg == "-") {
      list.files.push_back(arg);
      continue;
    }
    std::error_code ec;
    const fs::file_status st = fs::status(arg, ec);
    if (ec || !fs::exists(st)) {
      list.errors.push_back(fmt::format("{}: no such file or directory", arg));
    } else if (fs::is_directory(st)) {
      Walk(arg, list.files, list.errors, 0);
    } else {
      list.files.push_back(arg);
    }
  }
  return list;
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

}  // namespace dmarc::pipeline
