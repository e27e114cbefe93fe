// Ingest: inputs → extract (on all cores) → enrich → store → file. The one path of `import` (a
// list of files), `fetch` and `run` (mail sources). Progress, logging and metrics are the
// caller's: it passes an IngestObserver, so this module knows nothing of terminals or counters.
//
// The contract that keeps reports from being lost: a source's mails are filed only once the
// batch holding their reports is committed (see collect/source.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "collect/source.h"
#include "enrich/enrich.h"
#include "pipeline/extract.h"
#include "store/store.h"

namespace dmarc::pipeline {

// One input extracted; each of its rejections keeps what is needed to store it (its item's
// SHA-256, size and first bytes, with ExtractOptions::keep_rejected).
struct InputResult {
  Extracted extracted;
  // Its reports' sources enriched by the worker that extracted it (offline enrichment: no DNS,
  // so no cache in the store to consult), with what that found; StoreResults then only records
  // the addresses.
  bool enriched = false;
  enrich::LookupStats enrichment;
  // HeldBytes() of this result, as the worker that extracted it found it (Ingest::Run weighs
  // batches and its read-ahead with it, without walking the reports again).
  std::size_t held_bytes = 0;
};

// The reports of the file at path ("-": standard input); `parse` uses it too.
InputResult ExtractInput(const std::string& path, const ExtractOptions& options);
// The same for bytes in memory; label names the input in origins and messages. An input that
// runs out of memory while extracted (whatever the limits let through) is one rejection, so a
// collection moves on past it.
InputResult ExtractBuffer(std::string_view bytes, const std::string& label,
                          const ExtractOptions& options);

// What an extracted input holds in memory: its aggregate reports' model (model::HeapBytes), its
// failure and SMTP TLS reports (estimated from their payloads), the compressed XML kept and the
// rejections: what a batch of inputs is bounded by (Limits::max_batch_bytes).
std::size_t HeldBytes(const InputResult& input);

// Stores every report and rejection of these inputs as one batch: the one place where extracted
// reports enter the store. With an enricher, the sources of reports the store does not have yet
// are enriched first (adding to *enrich_total). Returns once the batch is committed. The bytes
// the rejections kept are moved into the store's batch (not copied): afterwards the inputs'
// rejections have their origin and reason only.
Result<store::BatchResult> StoreResults(store::ReportStore& st, std::vector<InputResult>& inputs,
                                        enrich::Enricher* enricher = nullptr,
                                        enrich::LookupStats* enrich_total = nullptr);

// One committed batch, as the observer sees it: told once its reports are stored, whether or
// not its mails could be filed afterwards (those left in the mailbox come again as duplicates).
struct BatchDone {
  const std::vector<InputResult>& inputs;
  // Where each input was filed (its class); from a list of files too, though nothing moves.
  const std::vector<collect::MailClass>& classes;
  const store::BatchResult& stored;
  const enrich::LookupStats& enriched;  // this batch's lookups, warnings included
  double seconds;                       // from taking the batch to filing it
  // False when the mails stay where they were: filing failed, or an output holds them.
  bool filed = true;
};

// What an ingest tells as it goes. Called on the thread that runs the ingest.
class IngestObserver {
 public:
  virtual ~IngestObserver() = default;
  // Before the first input: how many are waiting in `source` (files listed, mails found).
  virtual void OnStart(const collect::Source& /*source*/, std::size_t /*waiting*/) {}
  // Each input once extracted, in input order, before it is stored.
  virtual void OnInput(const InputResult& /*input*/) {}
  // Each batch once committed, after its mails were filed (or failed to be).
  virtual void OnBatch(const BatchDone& /*batch*/) {}
  // After the last batch (also after an error).
  virtual void OnEnd() {}
};

struct IngestOptions {
  ExtractOptions extract;  // keep_raw_xml is turned on: the store keeps each report's XML
  unsigned jobs = 1;
  enrich::Enricher* enricher = nullptr;  // nullptr: enrichment is off
  // A batch is committed once its inputs hold this many records (a failure or SMTP TLS report
  // counts 10), else at the end of the source's batch (files: at most 1000 inputs).
  std::size_t batch_records = SIZE_MAX;
  // Called once a batch is committed, before its mails are filed: an error keeps them where they
  // are (the mails of a batch whose reports a `required` output has not delivered yet,
  // docs/outputs.md). Empty: none.
  std::function<Status()> before_filing;
  // A batch is also committed once its inputs hold half of extract.limits().max_batch_bytes in
  // memory (HeldBytes()), the results extracted meanwhile waiting within the other half, so that
  // the reports held at once are bounded by bytes whatever their count: see docs/security.md
  // ("Memory").
};

class Ingest {
 public:
  Ingest(store::ReportStore& st, const IngestOptions& options, IngestObserver& observer);

  // Reads every mail waiting in the source, stores its reports, then files it. Stops between
  // batches when `stop` is set. The store commits batch k while batch k + 1 is read and
  // extracted; batch k is filed only once its commit returned.
  Status Drain(collect::Source& source, const std::atomic<bool>& stop);

  // `import`: the same for a list of files (read on the workers), which stay where they are.
  // Into a local store, each batch is committed before the next is extracted (a local disk hides
  // nothing behind a commit, and one batch in memory is half the peak); into a store whose
  // commits run elsewhere (ReportStore::CommitsElsewhere: a database server), batch k + 1 is
  // extracted while batch k commits, as Drain does. Returns the store's own error when a commit
  // fails.
  Status Files(const std::vector<std::string>& paths);

 private:
  struct InFlight;
  Status Run(collect::Source& source, const std::atomic<bool>& stop, bool items_are_paths);
  Status Finish(InFlight& f, collect::Source& source);
  // One input of a batch (a path to read, or a mail, whose bytes it releases), extracted.
  InputResult ExtractItem(collect::MailItem& item, bool is_path) const;
  void EnrichOffline(InputResult& r) const;

  store::ReportStore& store_;
  IngestOptions options_;
  IngestObserver& observer_;
  std::optional<Error> store_error_;  // the last commit's error, kind and message
  std::unique_ptr<ParseGate> gate_;   // parsing at once costs at most max_batch_bytes
};

}  // namespace dmarc::pipeline
