// HeapBytes: what a parsed aggregate report holds on the heap, counted from the capacities of its
// lists and strings (malloc's own few bytes per block are not counted). The ingest weighs the
// reports it holds with it (pipeline::HeldBytes), so that a batch is bounded by what it really
// holds: a record takes 1–2 times its XML here, where the document tree parsed took ten.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "model/aggregate.h"

namespace dmarc::model {

// A string's own block, none while it fits in the string itself (the short-string buffer).
inline std::size_t HeapBytes(const std::string& s) {
  static const std::size_t kInline = std::string().capacity();
  return s.capacity() > kInline ? s.capacity() + 1 : 0;
}

inline std::size_t HeapBytes(const OptString& s) { return s ? HeapBytes(*s) : 0; }

// The strings of a DKIM or SPF result, a record, a report's metadata and policy.
inline std::size_t HeapBytes(const DkimAuthResult& r) {
  return HeapBytes(r.domain) + HeapBytes(r.selector) + HeapBytes(r.result) +
         HeapBytes(r.human_result);
}

inline std::size_t HeapBytes(const SpfAuthResult& r) {
  return HeapBytes(r.domain) + HeapBytes(r.scope) + HeapBytes(r.result) + HeapBytes(r.human_result);
}

inline std::size_t HeapBytes(const Source& s) {
  return HeapBytes(s.ip_address) + HeapBytes(s.country) + HeapBytes(s.reverse_dns) +
         HeapBytes(s.base_domain) + HeapBytes(s.name) + HeapBytes(s.type) + HeapBytes(s.as_name) +
         HeapBytes(s.as_domain);
}

template <typename T>
std::size_t HeapBytes(const std::vector<T>& list) {
  std::size_t n = list.capacity() * sizeof(T);
  for (const T& item : list) n += HeapBytes(item);
  return n;
}

inline std::size_t HeapBytes(const PolicyOverrideReason& r) {
  return HeapBytes(r.type) + HeapBytes(r.comment);
}

inline std::size_t HeapBytes(const Record& r) {
  const PolicyEvaluated& p = r.policy_evaluated;
  const Identifiers& id = r.identifiers;
  return HeapBytes(r.source) + HeapBytes(p.disposition) + HeapBytes(p.dkim) + HeapBytes(p.spf) +
         HeapBytes(p.policy_override_reasons) + HeapBytes(id.header_from) +
         HeapBytes(id.envelope_from) + HeapBytes(id.envelope_to) + HeapBytes(r.dkim) +
         HeapBytes(r.spf);
}

inline std::size_t HeapBytes(const AggregateReport& r) {
  const ReportMetadata& m = r.report_metadata;
  const PolicyPublished& p = r.policy_published;
  return HeapBytes(r.xml_schema) + HeapBytes(r.xml_namespace) + HeapBytes(m.org_name) +
         HeapBytes(m.org_email) + HeapBytes(m.org_extra_contact_info) + HeapBytes(m.report_id) +
         HeapBytes(m.generator) + HeapBytes(m.errors) + HeapBytes(p.domain) + HeapBytes(p.adkim) +
         HeapBytes(p.aspf) + HeapBytes(p.p) + HeapBytes(p.sp) + HeapBytes(p.pct) + HeapBytes(p.fo) +
         HeapBytes(p.np) + HeapBytes(p.testing) + HeapBytes(p.discovery_method) +
         HeapBytes(r.records);
}

}  // namespace dmarc::model
