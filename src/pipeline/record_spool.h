// RecordSpool: the records of an aggregate report too large to hold (parsed as a stream), kept in
// a compact binary form in a Spool (memory, then a temporary file) until the store reads them
// back, batch by batch, as often as it needs (a transaction that is retried reads them again).
//
// Thread-safety: one thread at a time (written by the worker that parses the report, read by the
// store's thread afterwards).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/spool.h"
#include "model/aggregate.h"

namespace dmarc::pipeline {

class RecordSpool {
 public:
  explicit RecordSpool(std::size_t memory_bytes = Spool::kDefaultMemoryBytes)
      : spool_(memory_bytes) {}
  Status Add(const std::vector<model::Record>& records);
  std::uint64_t Count() const { return count_; }
  // Bytes held in memory (the rest waits in a temporary file).
  std::size_t MemoryBytes() const { return spool_.MemoryBytes(); }
  // Moves them to the temporary file (Spool::MoveToFile).
  bool MoveToFile() { return spool_.MoveToFile(); }

  // From the first record again.
  Status Rewind();
  // The next records, at most `max`, in place of what `out` held (its records are read over, so
  // their strings keep their buffers); none at the end.
  Status Next(std::vector<model::Record>& out, std::size_t max);

 private:
  Spool spool_;
  std::uint64_t count_ = 0;
  std::uint64_t read_ = 0;  // records read back since the last Rewind
  std::string encoded_;     // reused
};

// One record's encoding (appended to `out`), and its decoding from the front of `in` (advanced
// past it); false when `in` does not start with a whole record.
void EncodeRecord(const model::Record& rec, std::string& out);
bool DecodeRecord(std::string_view& in, model::Record& rec);

}  // namespace dmarc::pipeline
