// Files on disk: reading one whole input under a size limit, and the one directory walker (used
// for `parse`/`import` arguments and for `fetch`'s Maildir and drop folders, each with its rules).
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/limits.h"
#include "base/result.h"

namespace dmarc {

// Where a path to read comes from, which decides what may be read through it.
enum class PathOrigin {
  // Found inside a folder (a Maildir, a drop folder, a folder given to `import`): whoever can
  // write there chooses the name, so a symbolic link is never followed (a link to /etc/shadow
  // would otherwise be stored and shown) and only a regular file is read (a FIFO would block).
  kFoundInFolder,
  // Named by the user (a command-line argument, a configured mbox): followed when a link, and
  // read when a pipe (`parse <(zcat x.gz)`, /dev/stdin).
  kNamedByUser,
};

// Reads a whole input ("-" is standard input), refusing one larger than limits.max_input_bytes.
// kFoundInFolder opens with O_NOFOLLOW and checks the type of what was opened (fstat, so a file
// swapped for a link or a FIFO after the walk is refused too); errors name the reason.
Result<std::string> ReadInput(const std::string& path, const Limits& limits,
                              PathOrigin origin = PathOrigin::kFoundInFolder);

// Reads an input as ReadInput does (same rules for links and file types by origin, same
// max_input_bytes limit and error texts), handing it to `sink` in chunks of `chunk_bytes` (all
// full but the last; none for an empty input) so that it is never held whole. A regular file
// over the limit is refused before any chunk; a pipe (or a file growing while read) once it
// passes the limit, after the chunks before. An error from `sink` is returned as it is and ends
// the reading.
using FileChunkSink = std::function<Status(std::string_view chunk)>;
Status ReadFileChunks(const std::string& path, PathOrigin origin, const Limits& limits,
                      std::size_t chunk_bytes, const FileChunkSink& sink);

// Created files and folders are private whatever the umask: they hold reports, failure samples
// (personal data) and logs. Each missing level of `dir` is made with mode 0700 (existing ones are
// left as they are); the error names the folder.
Status CreatePrivateDirectories(const std::filesystem::path& dir);
// Creates `path` empty with mode 0600 when it does not exist (an existing file is not even opened),
// so that a library that opens it next (SQLite, which gives its -wal and -shm files the mode of
// the database; the log file sink) finds it private.
Status CreatePrivateFile(const std::string& path);
// True when the file at `path` exists and its group or other users may read it (a secret in it
// is then only as secret as that); false when it cannot be looked at.
bool ReadableByOthers(const std::string& path);

// What a walk leaves out. Whatever the rules, symbolic links to directories are not followed and
// every directory's entries are taken in name order.
struct WalkRules {
  // Names starting with a dot (files still being written into a drop folder, then renamed).
  bool skip_hidden = false;
  // In a Maildir (cur/, new/ and tmp/ all present): tmp/, where deliveries are still being
  // written, and the index files of mail servers (dovecot*, courier*, subscriptions, ...).
  bool maildir_aware = false;
  // Directories right under the root that are not walked (a drop folder's processed/, invalid/).
  std::vector<std::string> skip_top_level;
  // Levels below the root walked; a deeper directory is an error when deep_is_error, else left
  // out silently.
  int max_depth = 64;
  bool deep_is_error = true;
};

// Appends the files under `dir` to `files`, and "DIR: reason" for each directory that cannot be
// read (or is too deep) to `errors`. Entries that are neither directories nor regular files
// (symbolic links to files, FIFOs, sockets, devices) are listed as files too, so that reading
// them (ReadInput, kFoundInFolder) rejects each by name and the sources file it away instead of
// leaving it in place, unexplained, for ever.
void WalkFiles(const std::filesystem::path& dir, const WalkRules& rules,
               std::vector<std::string>& files, std::vector<std::string>& errors);

}  // namespace dmarc
