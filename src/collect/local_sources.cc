// The local sources: a Maildir, a drop directory, an mbox file.
#include <fmt/format.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <system_error>
#include <thread>

#include "base/files.h"
#include "collect/source.h"

namespace dmarc::collect {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kBatch = 200;

// Lists files once in Open(), hands them out in batches, and leaves filing to the subclass.
class FileSource : public Source {
 public:
  FileSource(std::string path, std::size_t max_mail_bytes) : path_(std::move(path)) {
    limits_.max_input_bytes = max_mail_bytes;
  }

  Result<std::size_t> Open() override {
    files_.clear();
    next_ = 0;
    std::error_code ec;
    if (!fs::exists(path_, ec)) {
      return MakeError(
          fmt::format("{}: does not exist (check the path in the configuration)", path_));
    }
    std::vector<std::string> errors;
    List(errors);
    if (!errors.empty()) return MakeError(errors.front());
    std::sort(files_.begin(), files_.end());
    return files_.size();
  }

  Status CheckPath() override {
    auto listed = FileSource::Open();
    files_.clear();
    next_ = 0;
    if (!listed) return MakeError(listed.error());
    return Ok();
  }

  Result<std::vector<MailItem>> Next() override {
    std::vector<MailItem> batch;
    std::size_t held = 0;
    while (next_ < files_.size() && batch.size() < kBatch && held < kMaxBatchMailBytes) {
      const std::string& f = files_[next_++];
      MailItem item;
      item.id = f;
      item.label = f;
      auto bytes = ReadInput(f, limits_, origin_);
      if (!bytes) {
        // Gone since it was listed (another reader took it): nothing to do for it. A link is
        // there even when its target is not: it is rejected (and filed away) like any error.
        std::error_code ec;
        if (!fs::exists(fs::symlink_status(f, ec))) continue;
        item.error = bytes.error();
      } else {
        item.bytes = std::move(bytes).value();
      }
      held += item.bytes.size();
      batch.push_back(std::move(item));
    }
    return batch;
  }

 protected:
  // Adds the paths of waiting mails to files_.
  virtual void List(std::vector<std::string>& errors) = 0;

  // The files under dir, without names starting with a dot (files being written are expected
  // under such a name, then renamed), at most max_depth levels down.
  void AddFilesIn(const fs::path& dir, int max_depth, std::vector<std::string> skip_dirs,
                  std::vector<std::string>& errors) {
    WalkRules rules;
    rules.skip_hidden = true;
    rules.skip_top_level = std::move(skip_dirs);
    rules.max_depth = max_depth;
    rules.deep_is_error = false;
    WalkFiles(dir, rules, files_, errors);
  }

  // Renames `from` into directory `to_dir` (created when missing), keeping its name, or with a
  // numbered suffix when the name is taken.
  static Status MoveInto(const std::string& from, const fs::path& to_dir) {
    if (Status made = CreatePrivateDirectories(to_dir); !made) return made;
    std::error_code ec;
    const std::string name = fs::path(from).filename().string();
    fs::path target = to_dir / name;
    for (int n = 1; fs::exists(target, ec) && n < 1000; ++n) {
      target = to_dir / fmt::format("{}.{}", name, n);
    }
    fs::rename(from, target, ec);
    if (ec) {
      return MakeError(
          fmt::format("{}: cannot move to {}: {}", from, target.string(), ec.message()));
    }
    return Ok();
  }

  std::string path_;
  Limits limits_;
  // Files found in a folder are never read through a link; a configured mbox file is.
  PathOrigin origin_ = PathOrigin::kFoundInFolder;
  std::vector<std::string> files_;
  std::size_t next_ = 0;
};

class MaildirSource : public FileSource {
 public:
  MaildirSource(const MaildirOptions& c, std::size_t max_mail_bytes)
      : FileSource(c.path, max_mail_bytes), config_(c) {}

  std::string Describe() const override { return "maildir:" + path_; }

  Status File(const std::vector<Filing>& filings) override {
    for (const auto& f : filings) {
      Status s = Ok();
      const bool archive = config_.after == After::kArchive ||
                           (config_.archive_invalid && f.mail_class == MailClass::kInvalid);
      if (archive) {
        // Maildir++: the subfolder Archive/Aggregate is the directory .Archive.Aggregate.
        const fs::path folder = fs::path(path_) / fmt::format(".{}.{}", config_.archive_folder,
                                                              FolderName(f.mail_class));
        s = CreatePrivateDirectories(folder / "new");
        if (s) s = CreatePrivateDirectories(folder / "tmp");
        if (s) s = MoveInto(f.id, folder / "cur");
      } else if (config_.after == After::kDelete) {
        std::error_code ec;
        fs::remove(f.id, ec);
        if (ec) s = MakeError(fmt::format("{}: cannot delete: {}", f.id, ec.message()));
      }
      if (!s) return s;
    }
    return Ok();
  }

 protected:
  void List(std::vector<std::string>& errors) override {
    for (const char* sub : {"new", "cur"}) {
      std::error_code ec;
      const fs::path dir = fs::path(path_) / sub;
      if (!fs::is_directory(dir, ec)) {
        errors.push_back(fmt::format("{}: not a Maildir (no {}/ folder)", path_, sub));
        return;
      }
      // The configured path may be a link (the administrator's choice); its new/ and cur/ are
      // not followed, as nothing found inside the Maildir is.
      if (fs::is_symlink(dir, ec)) {
        errors.push_back(fmt::format("{}: a symbolic link: not followed", dir.string()));
        return;
      }
      AddFilesIn(dir, 31, {}, errors);  // new/ and cur/ are one level down already
    }
  }

 private:
  MaildirOptions config_;
};

// A drop folder: anything put into it is read; files with a report go to processed/, others to
// invalid/. Files still being written are left for a later pass: names starting with a dot or
// ending in .tmp or .part, and files modified in the last kSettleSeconds that change while they
// are looked at again. With --watch, inotify wakes the source as soon as a file is closed after
// writing or moved in (polling stays the fallback, e.g. for subfolders).
class DirectorySource : public FileSource {
 public:
  static constexpr int kSettleSeconds = 2;

  using FileSource::FileSource;
  ~DirectorySource() override {
    if (inotify_ >= 0) ::close(inotify_);
  }

  std::string Describe() const override { return "directory:" + path_; }

  Result<std::size_t> Open() override {
    StartWatching();
    auto listed = FileSource::Open();
    if (!listed) return listed;
    Settle();
    return files_.size();
  }

  Status File(const std::vector<Filing>& filings) override {
    for (const auto& f : filings) {
      const fs::path rel = fs::path(f.id).lexically_relative(path_).parent_path();
      const fs::path to =
          fs::path(path_) / (f.mail_class == MailClass::kInvalid ? "invalid" : "processed") / rel;
      Status s = MoveInto(f.id, to);
      if (!s) return s;
    }
    return Ok();
  }

  // Up to `seconds`, returning early when a file is closed after writing or moved into the folder
  // (inotify), or, when a file was left for being written, once it may have settled.
  Status Wait(std::int64_t seconds, const std::atomic<bool>& stop) override {
    if (inotify_ < 0) return Source::Wait(seconds, stop);
    const auto start = std::chrono::steady_clock::now();
    auto until = start + std::chrono::seconds(seconds);
    if (unsettled_) until = std::min(until, start + std::chrono::seconds(kSettleSeconds + 1));
    while (!stop && std::chrono::steady_clock::now() < until) {
      pollfd p{inotify_, POLLIN, 0};
      if (::poll(&p, 1, 200) > 0 && DrainEvents()) break;
    }
    return Ok();
  }

 protected:
  void List(std::vector<std::string>& errors) override {
    AddFilesIn(path_, 32, {"processed", "invalid"}, errors);
    std::erase_if(files_, [](const std::string& f) { return IsPartialName(f); });
  }

 private:
  static bool IsPartialName(std::string_view path) {
    const std::string_view name = path.substr(path.rfind('/') + 1);
    return name.empty() || name[0] == '.' || name.ends_with(".tmp") || name.ends_with(".part");
  }

  struct Look {
    bool ok = false;
    off_t size = 0;
    timespec mtime{};
    bool operator==(const Look& o) const {
      return ok == o.ok && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
             mtime.tv_nsec == o.mtime.tv_nsec;
    }
  };
  static Look LookAt(const std::string& f) {
    struct stat st {};
    if (::lstat(f.c_str(), &st) != 0) return {};
    return {true, st.st_size, st.st_mtim};
  }

  // Files modified in the last kSettleSeconds are looked at again once they are that old (at
  // most kSettleSeconds from now); those whose size or time changed meanwhile stay for the next
  // pass.
  void Settle() {
    unsettled_ = false;
    const std::time_t now = std::time(nullptr);
    std::map<std::string, Look> young;
    std::time_t newest = 0;
    for (const auto& f : files_) {
      const Look l = LookAt(f);
      if (l.ok && l.mtime.tv_sec + kSettleSeconds > now) {
        young[f] = l;
        newest = std::max(newest, l.mtime.tv_sec);
      }
    }
    if (young.empty()) return;
    const std::time_t wait =
        std::clamp<std::time_t>(newest + kSettleSeconds - now, 1, kSettleSeconds);
    std::this_thread::sleep_for(std::chrono::seconds(wait));
    std::erase_if(files_, [&](const std::string& f) {
      auto it = young.find(f);
      if (it == young.end() || LookAt(f) == it->second) return false;
      unsettled_ = true;
      return true;
    });
  }

  void StartWatching() {
    if (inotify_ >= 0 || inotify_failed_) return;
    inotify_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_ >= 0 &&
        ::inotify_add_watch(inotify_, path_.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
      ::close(inotify_);
      inotify_ = -1;
    }
    inotify_failed_ = inotify_ < 0;  // polling only (e.g. the inotify watch limit reached)
  }

  // Reads the queued events; true when one names a file a pass would take.
  bool DrainEvents() {
    alignas(inotify_event) char buf[16 * 1024];
    bool wake = false;
    for (;;) {
      const ssize_t n = ::read(inotify_, buf, sizeof buf);
      if (n <= 0) break;
      for (ssize_t i = 0; i + static_cast<ssize_t>(sizeof(inotify_event)) <= n;) {
        const auto* e = reinterpret_cast<const inotify_event*>(buf + i);
        if (e->mask & IN_Q_OVERFLOW) wake = true;
        if (e->len > 0 && !IsPartialName(e->name)) wake = true;
        i += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
      }
    }
    return wake;
  }

  int inotify_ = -1;
  bool inotify_failed_ = false;
  bool unsettled_ = false;  // the last pass left a file that was still changing
};

// An mbox file is read whole, as one input, and left as it is: re-reading it only finds
// duplicates.
class MboxSource : public FileSource {
 public:
  MboxSource(std::string path, std::size_t max_mail_bytes)
      : FileSource(std::move(path), max_mail_bytes) {
    origin_ = PathOrigin::kNamedByUser;
  }

  std::string Describe() const override { return "mbox:" + path_; }
  Status File(const std::vector<Filing>&) override { return Ok(); }

 protected:
  void List(std::vector<std::string>& errors) override {
    std::error_code ec;
    if (!fs::is_regular_file(path_, ec)) {
      errors.push_back(fmt::format("{}: not an mbox file", path_));
      return;
    }
    files_.push_back(path_);
  }
};

}  // namespace

std::unique_ptr<Source> MakeMaildirSource(const MaildirOptions& c, std::size_t max_mail_bytes) {
  return std::make_unique<MaildirSource>(c, max_mail_bytes);
}
std::unique_ptr<Source> MakeMboxSource(const std::string& path, std::size_t max_mail_bytes) {
  return std::make_unique<MboxSource>(path, max_mail_bytes);
}
std::unique_ptr<Source> MakeDirectorySource(const std::string& path, std::size_t max_mail_bytes) {
  return std::make_unique<DirectorySource>(path, max_mail_bytes);
}

}  // namespace dmarc::collect
