// What `fetch` and `run` record of each mail source in the store's ingest status
// (store/ingest_status.h), for `dmarc-report status` and the dashboard's status page, which may
// run in other processes or on other machines: the state of each source (idle, polling, error,
// disabled), its last and next poll, the inputs of the running poll (N of M), what its polls
// brought and its last error.
//
// The recorder has a store connection of its own (the ingest's belongs to its store thread) with
// a short busy timeout: the status is never worth holding up the collection. A write that fails
// is logged once and its counts are kept, to be added by the next write that succeeds.
//
// Thread-safety: used by the thread that runs the ingest (as its observer too).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app/store_target.h"
#include "base/result.h"
#include "collect/source.h"
#include "pipeline/ingest.h"
#include "store/store.h"

namespace dmarc::app {

class IngestStatusRecorder : public pipeline::IngestObserver {
 public:
  // secrets: taken out of the errors recorded (as the log does).
  IngestStatusRecorder(const StoreTarget& target, std::vector<std::string> secrets);
  ~IngestStatusRecorder() override;
  IngestStatusRecorder(const IngestStatusRecorder&) = delete;
  IngestStatusRecorder& operator=(const IngestStatusRecorder&) = delete;

  // A poll of the source begins / ended (with the error that ended it, if any).
  void PollStart(const collect::Source& source);
  void PollEnd(const collect::Source& source, const Status& result);
  // Every source recorded polls again in `seconds`.
  void NextPoll(std::int64_t seconds);
  // The collector stops: its sources are disabled (no next poll) when it was watching them;
  // otherwise they keep their state, without a next poll.
  void Stopped(bool watching);

  // pipeline::IngestObserver: the inputs waiting, then each committed batch.
  void OnStart(const collect::Source& source, std::size_t waiting) override;
  void OnBatch(const pipeline::BatchDone& batch) override;

 private:
  struct Entry {
    store::SourceState state;
    store::SourceCounts pending;  // counts not written yet
  };
  Entry& EntryOf(const std::string& name);
  void Write(Entry& e);

  std::unique_ptr<store::ReportStore> store_;  // nullptr: could not be opened (logged)
  std::vector<std::string> secrets_;
  std::map<std::string, Entry> entries_;
  std::string current_;  // the source being drained
  bool warned_ = false;
};

// Forwards every event to two observers, in order.
class ObserverPair : public pipeline::IngestObserver {
 public:
  ObserverPair(pipeline::IngestObserver& first, pipeline::IngestObserver& second)
      : first_(first), second_(second) {}
  void OnStart(const collect::Source& source, std::size_t waiting) override {
    first_.OnStart(source, waiting);
    second_.OnStart(source, waiting);
  }
  void OnInput(const pipeline::InputResult& input) override {
    first_.OnInput(input);
    second_.OnInput(input);
  }
  void OnBatch(const pipeline::BatchDone& batch) override {
    first_.OnBatch(batch);
    second_.OnBatch(batch);
  }
  void OnEnd() override {
    first_.OnEnd();
    second_.OnEnd();
  }

 private:
  pipeline::IngestObserver& first_;
  pipeline::IngestObserver& second_;
};

}  // namespace dmarc::app
