// Decompression of report containers: gzip and zip, recognised by magic bytes, with limits on
// decompressed size, compression ratio and entry count. Nothing is ever written to disk, so zip
// entry names are labels only (a "../" in a name cannot escape anywhere).
//
// Thread-safety: all functions are reentrant.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/limits.h"
#include "base/result.h"

namespace dmarc::archive {

// What a byte string is, judged from its first bytes only.
enum class Kind {
  kEmpty,  // zero bytes or only whitespace
  kGzip,   // 1F 8B
  kZip,    // PK\3\4 or PK\5\6 (empty archive)
  kXml,    // '<' after an optional BOM and whitespace
  kJson,   // '{' or '[' after an optional BOM and whitespace
  kMbox,   // "From " at the very start
  kMail,   // an RFC 5322 header field at the start
  kUnknown,
};

Kind Sniff(std::string_view bytes);
const char* KindName(Kind kind);

struct Decompressed {
  std::string data;
  std::vector<std::string> warnings;  // recoveries, e.g. trailing garbage after the stream
};

// Inflates a gzip stream (several concatenated members are joined, as gzip(1) does).
Result<Decompressed> Gunzip(std::string_view in, const Limits& limits);
// Compresses bytes into one gzip member (what Gunzip reads back).
Result<std::string> Gzip(std::string_view in);

struct ZipEntry {
  std::string name;
  std::string data;
};

// Calls visit() for every regular file entry, in archive order. Entries that cannot be read
// (encrypted, corrupt, over a limit) are reported through problem() with the entry name and
// the walk continues; an archive that cannot be opened at all is an error.
// Returns the number of entries visited.
using ZipVisitor = std::function<void(ZipEntry&& entry)>;
using ZipProblem = std::function<void(const std::string& entry_name, const std::string& reason)>;
Result<std::size_t> ForEachZipEntry(std::string_view in, const Limits& limits,
                                    const ZipVisitor& visit, const ZipProblem& problem);

}  // namespace dmarc::archive
