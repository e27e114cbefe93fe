// Known forwarders and mailing lists (docs/senders.md, "Forwarded mail"): the bundled
// forwarders.tsv (built into the program; its header describes the format) and the user's files
// in the same format. The enforcement advisor counts a DMARC-failing message from one of them as
// forwarded.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "model/aggregate.h"
#include "model/failure.h"

namespace dmarc::store {

struct KnownForwarder {
  std::string key;   // the entry that matched: "googlegroups.com", "lists.*"
  std::string name;  // "Google Groups"
  std::string kind;  // "forwarder" or "mailing_list"
};

class Forwarders {
 public:
  // The bundled list (read once).
  static const Forwarders& BuiltIn();
  // The bundled list and then the user's files; an error names the file and line.
  static Result<std::shared_ptr<const Forwarders>> WithFiles(const std::vector<std::string>& paths);

  // Adds (or overrides, or with kind "none" removes) entries from text in the forwarders
  // format; origin names it in errors. At most 100,000 entries and 1 MiB per file.
  Result<bool> Add(std::string_view text, const std::string& origin);
  Result<bool> AddFile(const std::string& path);

  // The entry a domain or host name matches: the name or a parent of it, else a "LABEL.*"
  // entry of its first label. nullptr: none.
  const KnownForwarder* Find(std::string_view name) const;
  // The entry a record's source matches: by its PTR name, its base domain, then its SPF
  // (envelope) domains.
  const KnownForwarder* Match(const model::Record& record) const;
  std::size_t size() const { return entries_.size(); }

 private:
  std::unordered_map<std::string, KnownForwarder> entries_;  // by key
};

// Whether a failure report's message was forwarded (docs/senders.md, "Forwarded mail in failure
// reports"). Only what the reporting receiver itself states, or where the mail came from, counts:
// `arc_pass`, the receiver's Authentication-Results field of the report says arc=pass (detail:
// that result); `known_forwarder`, the source's PTR name or base domain, or the envelope domain
// the receiver's SPF passed for, is a known forwarder (detail: its name). The reported message's
// own headers are the sender's to write, so its ARC sets and List-Id are listed in `evidence`
// only: they classify nothing.
struct FailureForwarding {
  std::string kind;    // "forwarded", "mailing_list", or empty: not classified
  std::string reason;  // "arc_pass" or "known_forwarder"
  std::string detail;
  // What the reported message's headers say, unverified: "ARC i=2 sealed by lists.example.org:
  // cv=pass, dmarc=pass", "List-Id: <announce.lists.example.org>".
  std::vector<std::string> evidence;
};
FailureForwarding ClassifyFailure(const model::FailureReport& report, const Forwarders& forwarders);
// The same for a stored failure report (its JSON, store/failure_source.h); nothing classified
// when the JSON is not a failure report.
FailureForwarding ClassifyFailureData(std::string_view data, const Forwarders& forwarders);

// The result of one method ("spf", "dkim", "dmarc", "arc") in an Authentication-Results value
// ("mx.example; dkim=pass header.d=a.example; spf=fail ..."): the first, lower-cased, at most 32
// characters; empty when the method is not there.
std::string AuthMethodResult(std::string_view results, std::string_view method);

// The text of the bundled forwarders.tsv.
std::string_view BuiltInForwardersText();

}  // namespace dmarc::store
