// Limits that bound the work any single input can cause. Every report arrives from a stranger,
// so every size, ratio, count and depth is capped; each limit has a safe default and can be
// changed from the command line.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dmarc {

struct Limits {
  // Bytes of one decompressed payload (a report XML/JSON or a mail), and of everything
  // decompressed from one input, every level of nesting together (over it, the input as a whole
  // is rejected).
  std::size_t max_decompressed_bytes = 100u * 1024 * 1024;
  // Bytes read from one input file before decompression.
  std::size_t max_input_bytes = 200u * 1024 * 1024;
  // Decompressed/compressed ratio, enforced once the output passes kRatioGraceBytes.
  std::size_t max_compression_ratio = 1000;
  static constexpr std::size_t kRatioGraceBytes = 1024 * 1024;
  // Entries read from one zip archive.
  std::size_t max_zip_entries = 1000;
  // Nested containers (zip in gzip in mail in mbox ...).
  int max_nesting = 6;
  // XML element depth.
  int max_xml_depth = 64;
  // Tags in one XML document (a 100 MB report of real records has about 4 million). An aggregate
  // report parsed as a stream is not held whole: there the cap is per <record> and for the rest
  // of the report (its "frame": metadata, policy, other elements).
  std::size_t max_xml_elements = 8'000'000;
  // Bytes of one <record> of an aggregate report parsed as a stream (over it, that record is
  // skipped and the fact recorded, like a record that cannot be read), and of everything in
  // such a report outside its records (over it, the report is rejected).
  std::size_t max_record_bytes = 1024 * 1024;
  // Not a cap: bytes of decompressed aggregate report XML past which the report is parsed as a
  // stream, in flat memory (its records go to the output or the store in batches while the rest
  // is read); 0: every report is parsed whole (held in memory, bounded by the caps above).
  std::size_t stream_bytes = 4u * 1024 * 1024;
  // <record> elements in one aggregate report.
  std::size_t max_records = 1'000'000;
  // Characters kept from one text field; longer values are truncated and the fact recorded.
  std::size_t max_field_bytes = 16 * 1024;
  // MIME parts examined in one mail; more is a rejection (the parts before it are read).
  std::size_t max_mime_parts = 1000;
  // Messages read from one mbox file.
  std::size_t max_mbox_messages = 1'000'000;
  // Policies plus failure-detail entries read from one SMTP TLS report.
  std::size_t max_tls_entries = 100'000;
  // Header fields kept from one failure report's sample (and feedback fields read).
  std::size_t max_headers = 1000;
  // Count of one record; larger values are clamped and recorded.
  std::uint64_t max_count = 1'000'000'000'000ull;
  // Rejections kept for one input (an mbox of spam is one rejection per mail); the rest are
  // counted in one last rejection.
  std::size_t max_rejections = 1000;
  // Bytes kept of the rejected items of one input, all its rejections together (each keeps the
  // first bytes of its own item: an mbox message, a zip entry, a part); once spent, rejections
  // keep their reason only. Bounds what an input's rejections hold in memory and in the store.
  std::size_t max_rejected_bytes = 1024 * 1024;
  // Not per input: bytes of extracted reports import, fetch and run hold in memory (measured by
  // pipeline::HeldBytes): a batch is committed once it holds half, however few inputs it has,
  // and the results extracted meanwhile wait within the other half.
  std::size_t max_batch_bytes = 64u * 1024 * 1024;
};

}  // namespace dmarc
