// The local sources: a Maildir, a drop directory, an mbox file.
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <system_error>

#include "collect/source.h"
#include "pipeline/inputs.h"

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

  Result<std::vector<MailItem>> Next() override {
    std::vector<MailItem> batch;
    while (next_ < files_.size() && batch.size() < kBatch) {
      const std::string& f = files_[next_++];
      MailItem item;
      item.id = f;
      item.label = f;
      auto bytes = pipeline::ReadInput(f, limits_);
      if (!bytes) {
        // Gone since it was listed (another reader took it): nothing to do for it.
        std::error_code ec;
        if (!fs::exists(f, ec)) continue;
        item.error = bytes.error();
      } else {
        item.bytes = std::move(bytes).value();
      }
      batch.push_back(std::move(item));
    }
    return batch;
  }

 protected:
  // Adds the paths of waiting mails to files_.
  virtual void List(std::vector<std::string>& errors) = 0;

  void AddFilesIn(const fs::path& dir, int depth, const std::vector<std::string>& skip_dirs,
                  std::vector<std::string>& errors) {
    if (depth > 32) return;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      // Files being written are expected under a name starting with a dot, then renamed.
      if (name.empty() || name[0] == '.') continue;
      std::error_code type_ec;
      if (it->is_directory(type_ec) && !it->is_symlink(type_ec)) {
        if (depth == 0 && std::find(skip_dirs.begin(), skip_dirs.end(), name) != skip_dirs.end()) {
          continue;
        }
        AddFilesIn(it->path(), depth + 1, skip_dirs, errors);
      } else if (it->is_regular_file(type_ec)) {
        files_.push_back(it->path().string());
      }
    }
    if (ec) errors.push_back(fmt::format("{}: {}", dir.string(), ec.message()));
  }

  // Renames `from` into directory `to_dir` (created when missing), keeping its name, or with a
  // numbered suffix when the name is taken.
  static Status MoveInto(const std::string& from, const fs::path& to_dir) {
    std::error_code ec;
    fs::create_directories(to_dir, ec);
    if (ec) return MakeError(fmt::format("{}: cannot create: {}", to_dir.string(), ec.message()));
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
  std::vector<std::string> files_;
  std::size_t next_ = 0;
};

class MaildirSource : public FileSource {
 public:
  MaildirSource(const config::MaildirConfig& c, std::size_t max_mail_bytes)
      : FileSource(c.path, max_mail_bytes), config_(c) {}

  std::string Describe() const override { return "maildir:" + path_; }

  Status File(const std::vector<Filing>& filings) override {
    for (const auto& f : filings) {
      Status s = Ok();
      if (config_.after == config::After::kArchive) {
        // Maildir++: the subfolder Archive/Aggregate is the directory .Archive.Aggregate.
        const fs::path folder = fs::path(path_) / fmt::format(".{}.{}", config_.archive_folder,
                                                              FolderName(f.mail_class));
        std::error_code ec;
        fs::create_directories(folder / "new", ec);
        fs::create_directories(folder / "tmp", ec);
        s = MoveInto(f.id, folder / "cur");
      } else if (config_.after == config::After::kDelete) {
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
      AddFilesIn(dir, 1, {}, errors);
    }
  }

 private:
  config::MaildirConfig config_;
};

// A drop folder: anything put into it is read; files with a report go to processed/, others to
// invalid/.
class DirectorySource : public FileSource {
 public:
  using FileSource::FileSource;

  std::string Describe() const override { return "directory:" + path_; }

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

 protected:
  void List(std::vector<std::string>& errors) override {
    AddFilesIn(path_, 0, {"processed", "invalid"}, errors);
  }
};

// An mbox file is read whole, as one input, and left as it is: re-reading it only finds
// duplicates.
class MboxSource : public FileSource {
 public:
  using FileSource::FileSource;

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

std::unique_ptr<Source> MakeMaildirSource(const config::MaildirConfig& c,
                                          std::size_t max_mail_bytes) {
  return std::make_unique<MaildirSource>(c, max_mail_bytes);
}
std::unique_ptr<Source> MakeMboxSource(const std::string& path, std::size_t max_mail_bytes) {
  return std::make_unique<MboxSource>(path, max_mail_bytes);
}
std::unique_ptr<Source> MakeDirectorySource(const std::string& path, std::size_t max_mail_bytes) {
  return std::make_unique<DirectorySource>(path, max_mail_bytes);
}

}  // namespace dmarc::collect
