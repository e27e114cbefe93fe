#include "parse/aggregate_read.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "base/time.h"
#include "psl/psl.h"

namespace dmarc::parse::internal {

namespace {

using model::AggregateReport;

// True when the element's local name is `local` (a NUL-terminated constant), without
// measuring the name first.
bool NameIs(const pugi::xml_node& n, const char* local) {
  const char* name = n.name();
  for (const char* p = name; *p; ++p) {
    if (*p == ':') {
      name = p + 1;
      break;
    }
    if (*p != local[p - name]) {
      // Still possibly prefixed ("d:row"): look for a colon before giving up.
      for (const char* q = p; *q; ++q) {
        if (*q == ':') {
          name = q + 1;
          return std::strcmp(name, local) == 0;
        }
      }
      return false;
    }
  }
  return std::strcmp(name, local) == 0;
}

}  // namespace

std::string_view LocalName(const pugi::xml_node& n) {
  // One pass over the (short) name for its end and its first colon, not strlen then memchr.
  const char* const name = n.name();
  const char* local = name;
  const char* p = name;
  for (; *p; ++p) {
    if (*p == ':' && local == name) local = p + 1;
  }
  return {local, static_cast<std::size_t>(p - local)};
}

pugi::xml_node Child(const pugi::xml_node& parent, const char* local) {
  for (pugi::xml_node c = parent.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element && NameIs(c, local)) return c;
  }
  return {};
}

namespace {

std::string DomainOfEmail(std::string_view email) {
  const std::size_t at = email.rfind('@');
  std::string_view d = at == std::string_view::npos ? email : email.substr(at + 1);
  while (!d.empty() && (d.back() == '>' || IsSpace(d.back()))) d.remove_suffix(1);
  return std::string(d);
}

Result<bool> ReadMetadata(const pugi::xml_node& feedback, AggregateReport& report, Reader& rd) {
  pugi::xml_node md = Child(feedback, "report_metadata");
  if (!md) return MakeError("missing <report_metadata>");
  auto& m = report.report_metadata;
  m.org_name = rd.Text(md, "org_name", "org_name");
  m.org_email = rd.Text(md, "email", "email");
  m.org_extra_contact_info = rd.Optional(md, "extra_contact_info", "extra_contact_info");
  m.generator = rd.Optional(md, "generator", "generator");
  if (m.org_name.empty()) m.org_name = DomainOfEmail(m.org_email);
  // Like parsedmarc: an org_name that is a host name becomes its registrable domain
  // ("Outlook.com" → "outlook.com"); names with spaces ("FastMail Pty Ltd") stay as sent.
  if (m.org_name.find(' ') == std::string::npos) {
    if (auto base = psl::RegistrableDomain(m.org_name)) m.org_name = *base;
  }
  if (m.org_name.empty()) return MakeError("report has neither org_name nor email");
  // parsedmarc drops angle brackets and anything from an '@' on, so ids compare equal.
  std::string id = rd.Text(md, "report_id", "report_id");
  std::erase(id, '<');
  std::erase(id, '>');
  if (const std::size_t at = id.find('@'); at != std::string::npos) id.resize(at);
  m.report_id = std::string(Trim(id));
  if (m.report_id.empty()) return MakeError("missing report_id");
  pugi::xml_node range = Child(md, "date_range");
  if (!range) return MakeError("missing <date_range>");
  const std::string begin_text = rd.Text(range, "begin", "date_range.begin");
  const std::string end_text = rd.Text(range, "end", "date_range.end");
  auto parse_time = [&](const std::string& text) -> std::optional<std::int64_t> {
    if (auto v = ParseSigned(text)) return v;
    // Some reporters send fractional seconds.
    const std::size_t dot = text.find('.');
    if (dot != std::string::npos && dot > 0) {
      if (auto v = ParseSigned(std::string_view(text).substr(0, dot))) {
        rd.Note(fmt::format("date_range value \"{}\" had a fraction, truncated", text));
        return v;
      }
    }
    return std::nullopt;
  };
  auto begin = parse_time(begin_text);
  auto end = parse_time(end_text);
  if (!begin) return MakeError(fmt::format("invalid date_range begin \"{}\"", begin_text));
  if (!end) return MakeError(fmt::format("invalid date_range end \"{}\"", end_text));
  constexpr std::int64_t kMaxTime = 253402300799;  // 9999-12-31 23:59:59
  if (*begin < 0 || *end < 0 || *begin > kMaxTime || *end > kMaxTime) {
    return MakeError("date_range out of range");
  }
  if (*end < *begin) {
    rd.Note("date_range end before begin: swapped");
    std::swap(*begin, *end);
  }
  m.begin = *begin;
  m.end = *end;
  for (pugi::xml_node e = md.first_child(); e; e = e.next_sibling()) {
    if (e.type() == pugi::node_element && IsWord(LocalName(e), "error")) {
      std::string text = rd.Text(e, "report_metadata.error");
      if (!text.empty()) m.errors.push_back("reporter: " + text);
    }
  }
  return true;
}

Result<bool> ReadPolicy(const pugi::xml_node& feedback, AggregateReport& report, Reader& rd) {
  pugi::xml_node pp = Child(feedback, "policy_published");
  if (!pp) return MakeError("missing <policy_published>");
  auto& p = report.policy_published;
  p.domain = ToLowerAscii(rd.Text(pp, "domain", "policy_published.domain"));
  if (p.domain.empty()) return MakeError("missing policy_published domain");
  std::string adkim = rd.Word(pp, "adkim", "adkim");
  std::string aspf = rd.Word(pp, "aspf", "aspf");
  p.adkim = adkim.empty() ? "r" : adkim;
  p.aspf = aspf.empty() ? "r" : aspf;
  p.p = rd.Word(pp, "p", "p");
  if (p.p.empty()) {
    rd.Note("policy_published has no p: taken as \"none\"");
    p.p = "none";
  }
  std::string sp = rd.Word(pp, "sp", "sp");
  p.sp = sp.empty() ? p.p : sp;
  p.pct = rd.Optional(pp, "pct", "pct");
  p.fo = rd.Optional(pp, "fo", "fo");
  if (auto np = rd.Word(pp, "np", "np"); !np.empty()) p.np = np;
  if (auto t = rd.Word(pp, "testing", "testing"); !t.empty()) p.testing = t;
  if (auto dm = rd.Word(pp, "discovery_method", "discovery_method"); !dm.empty()) {
    p.discovery_method = dm;
  }
  return true;
}

// Calls f(local_name, element) for each child element, in order: one pass over the children
// instead of a search per field.
template <class F>
void ForEachElement(const pugi::xml_node& parent, F&& f) {
  for (pugi::xml_node c = parent.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element) f(LocalName(c), c);
  }
}

// Keeps the first of repeated elements, as a search for the first match would.
void Keep(pugi::xml_node& slot, const pugi::xml_node& n) {
  if (!slot) slot = n;
}

// The count of a record: a negative one is read as 0, one too large for 64 bits and any over the
// limit are clamped.
Result<std::uint64_t> ReadCount(const pugi::xml_node& count_node, std::size_t index,
                                const Limits& limits, Reader& rd) {
  const std::string count_text = rd.Text(count_node, "count");
  auto count = ParseUnsigned(count_text);
  if (!count) {
    auto signed_count = ParseSigned(count_text);
    const std::string_view digits = Trim(count_text);
    if (signed_count && *signed_count < 0) {
      rd.Note(fmt::format("record {}: negative count {} read as 0", index, *signed_count));
      count = 0;
    } else if (!digits.empty() && digits.size() <= 64 &&
               digits.find_first_not_of("0123456789") == std::string_view::npos) {
      // Too large for 64 bits: clamped below like any count over the limit.
      count = std::numeric_limits<std::uint64_t>::max();
    } else {
      return MakeError(fmt::format("record {}: invalid count \"{}\"", index, count_text));
    }
  }
  if (*count > limits.max_count) {
    rd.Note(fmt::format("record {}: count {} clamped to {}", index, *count, limits.max_count));
    count = limits.max_count;
  }
  return *count;
}

// <row>: the source address and the count; `pe` is set to its <policy_evaluated>.
Status ReadRow(const pugi::xml_node& row, std::size_t index, const Limits& limits, Reader& rd,
               model::Record& r, pugi::xml_node& pe) {
  pugi::xml_node ip, count_node;
  ForEachElement(row, [&](std::string_view name, const pugi::xml_node& n) {
    if (IsWord(name, "source_ip")) {
      Keep(ip, n);
    } else if (IsWord(name, "count")) {
      Keep(count_node, n);
    } else if (IsWord(name, "policy_evaluated")) {
      Keep(pe, n);
    }
  });
  r.source.ip_address = rd.Text(ip, "source_ip");
  if (r.source.ip_address.empty()) {
    return MakeError(fmt::format("record {}: missing source_ip", index));
  }
  DMARC_TRY_ASSIGN(r.count, ReadCount(count_node, index, limits, rd));
  return Ok();
}

void ReadPolicyEvaluated(const pugi::xml_node& pe, Reader& rd, model::PolicyEvaluated& ev) {
  pugi::xml_node disposition, dkim, spf;
  ForEachElement(pe, [&](std::string_view name, const pugi::xml_node& n) {
    if (IsWord(name, "disposition")) {
      Keep(disposition, n);
    } else if (IsWord(name, "dkim")) {
      Keep(dkim, n);
    } else if (IsWord(name, "spf")) {
      Keep(spf, n);
    } else if (IsWord(name, "reason")) {
      model::PolicyOverrideReason o;
      if (std::string type = ToLowerAscii(rd.Text(n, "type", "reason.type")); !type.empty()) {
        o.type = std::move(type);
      }
      o.comment = rd.Optional(n, "comment", "reason.comment");
      ev.policy_override_reasons.push_back(std::move(o));
    }
  });
  ev.disposition = rd.WordOf(disposition, "disposition");
  ev.dkim = rd.WordOf(dkim, "policy_evaluated.dkim");
  ev.spf = rd.WordOf(spf, "policy_evaluated.spf");
  if (ev.disposition.empty()) ev.disposition = "none";
  if (ev.dkim.empty()) ev.dkim = "fail";
  if (ev.spf.empty()) ev.spf = "fail";
}

OptString LowerOptional(Reader& rd, const pugi::xml_node& n, std::string_view what) {
  OptString v = rd.OptionalOf(n, what);
  if (v) *v = ToLowerAscii(*v);
  return v;
}

void ReadIdentifiers(const pugi::xml_node& ids, Reader& rd, model::Identifiers& out) {
  pugi::xml_node header_from, envelope_from, envelope_to;
  ForEachElement(ids, [&](std::string_view name, const pugi::xml_node& n) {
    if (IsWord(name, "header_from")) {
      Keep(header_from, n);
    } else if (IsWord(name, "envelope_from")) {
      Keep(envelope_from, n);
    } else if (IsWord(name, "envelope_to")) {
      Keep(envelope_to, n);
    }
  });
  out.header_from = ToLowerAscii(rd.Text(header_from, "header_from"));
  out.envelope_from = LowerOptional(rd, envelope_from, "envelope_from");
  out.envelope_to = LowerOptional(rd, envelope_to, "envelope_to");
}

// One <dkim> or <spf> of <auth_results> (`kind`), appended to the record; others are ignored.
void ReadAuthResult(std::string_view kind, const pugi::xml_node& a, Reader& rd, model::Record& r) {
  pugi::xml_node domain, selector, scope, result, human_result;
  ForEachElement(a, [&](std::string_view name, const pugi::xml_node& n) {
    if (IsWord(name, "domain")) {
      Keep(domain, n);
    } else if (IsWord(name, "selector")) {
      Keep(selector, n);
    } else if (IsWord(name, "scope")) {
      Keep(scope, n);
    } else if (IsWord(name, "result")) {
      Keep(result, n);
    } else if (IsWord(name, "human_result")) {
      Keep(human_result, n);
    }
  });
  if (IsWord(kind, "dkim")) {
    model::DkimAuthResult d;
    d.domain = ToLowerAscii(rd.Text(domain, "dkim.domain"));
    d.selector = rd.Text(selector, "dkim.selector");
    if (d.selector.empty()) d.selector = "none";
    d.result = rd.WordOf(result, "dkim.result");
    if (d.result.empty()) d.result = "none";
    d.human_result = rd.OptionalOf(human_result, "dkim.human_result");
    r.dkim.push_back(std::move(d));
  } else if (IsWord(kind, "spf")) {
    model::SpfAuthResult x;
    x.domain = ToLowerAscii(rd.Text(domain, "spf.domain"));
    x.scope = rd.WordOf(scope, "spf.scope");
    if (x.scope.empty()) x.scope = "mfrom";
    x.result = rd.WordOf(result, "spf.result");
    if (x.result.empty()) x.result = "none";
    x.human_result = rd.OptionalOf(human_result, "spf.human_result");
    r.spf.push_back(std::move(x));
  }
}

}  // namespace

Status ReadRecord(const pugi::xml_node& rec, std::size_t index, const Limits& limits, Reader& rd,
                  model::Record& r) {
  pugi::xml_node row, ids, ar;
  ForEachElement(rec, [&](std::string_view name, const pugi::xml_node& n) {
    if (IsWord(name, "row")) {
      Keep(row, n);
    } else if (IsWord(name, "identifiers") || IsWord(name, "identities")) {
      Keep(ids, n);
    } else if (IsWord(name, "auth_results")) {
      Keep(ar, n);
    }
  });
  if (!row) return MakeError(fmt::format("record {}: missing <row>", index));
  pugi::xml_node pe;
  DMARC_TRY(ReadRow(row, index, limits, rd, r, pe));
  ReadPolicyEvaluated(pe, rd, r.policy_evaluated);
  ReadIdentifiers(ids, rd, r.identifiers);
  ForEachElement(
      ar, [&](std::string_view kind, const pugi::xml_node& a) { ReadAuthResult(kind, a, rd, r); });
  // parsedmarc fills a missing envelope_from from the last SPF result's domain.
  if (!r.identifiers.envelope_from && !r.spf.empty() && !r.spf.back().domain.empty()) {
    r.identifiers.envelope_from = r.spf.back().domain;
  }
  const auto& ev = r.policy_evaluated;
  r.alignment.spf = IsWord(ev.spf, "pass");
  r.alignment.dkim = IsWord(ev.dkim, "pass");
  r.alignment.dmarc = r.alignment.spf || r.alignment.dkim;
  return Ok();
}

// The first namespace declared on <feedback> or an element around it (parsedmarc reports the
// first xmlns value in the document).
OptString FirstNamespace(const pugi::xml_node& feedback, bool with_wrappers) {
  for (pugi::xml_node n = feedback; n && n.type() == pugi::node_element;
       n = with_wrappers ? n.parent() : pugi::xml_node()) {
    for (pugi::xml_attribute a = n.first_attribute(); a; a = a.next_attribute()) {
      const std::string_view name = a.name();
      if (IsWord(name, "xmlns") || name.starts_with("xmlns:")) return std::string(a.value());
    }
  }
  return std::nullopt;
}

const char* ParseStatusText(pugi::xml_parse_status s) {
  pugi::xml_parse_result r;
  r.status = s;
  return r.description();
}

// A DTD can only stand in the prolog, before the root element; entities are never expanded, and
// a declaration says so in the report's errors.
void NoteDoctype(std::string_view xml, std::vector<std::string>& errors) {
  std::string_view prolog = xml.substr(0, 64 * 1024);
  for (std::size_t i = prolog.find('<'); i != std::string_view::npos; i = prolog.find('<', i + 1)) {
    if (i + 1 < prolog.size() && prolog[i + 1] != '?' && prolog[i + 1] != '!') {
      prolog = prolog.substr(0, i);
      break;
    }
  }
  if (prolog.find("<!DOCTYPE") != std::string_view::npos ||
      prolog.find("<!ENTITY") != std::string_view::npos) {
    errors.emplace_back("ignored a DOCTYPE declaration: entities are never expanded");
  }
}

// Parses `xml` (prepared from `input`) into `doc`, in place: the buffer must outlive doc.
Result<pugi::xml_node> FindFeedback(const pugi::xml_document& doc,
                                    std::vector<std::string>& errors) {
  pugi::xml_node feedback;
  for (pugi::xml_node n = doc.first_child(); n; n = n.next_sibling()) {
    if (n.type() == pugi::node_element) {
      feedback = n;
      break;
    }
  }
  if (feedback && IsWord(LocalName(feedback), "feedback")) return feedback;
  // A wrapper element that is well-formed: look one level down.
  pugi::xml_node inner = feedback ? Child(feedback, "feedback") : pugi::xml_node();
  if (!inner) {
    return MakeError(fmt::format("not a DMARC aggregate report: root element is <{}>",
                                 feedback ? feedback.name() : ""));
  }
  errors.push_back(fmt::format("<feedback> was wrapped in <{}>: wrapper ignored", feedback.name()));
  return inner;
}

// The <record> elements of <feedback>; one that cannot be read is skipped with a note.
Status ReadHeader(const pugi::xml_node& feedback, AggregateReport& report, Reader& rd) {
  std::string version = rd.Text(feedback, "version", "version");
  report.xml_schema = version.empty() ? "draft" : version;
  if (auto r = ReadMetadata(feedback, report, rd); !r) return MakeError(r.error());
  if (auto r = ReadPolicy(feedback, report, rd); !r) return MakeError(r.error());
  return Ok();
}

DaySplitter::DaySplitter(model::ReportMetadata& m, double threshold_hours)
    : begin_(m.begin), end_(m.end) {
  m.original_timespan_seconds = m.end - m.begin;
  m.timespan_requires_normalization =
      static_cast<double>(m.end - m.begin) > threshold_hours * 3600.0;
  split_ = m.timespan_requires_normalization;
  if (!split_) return;
  // Day buckets: [max(begin, day), min(end, day + 86400)).
  for (std::int64_t day = FloorDay(m.begin); day < m.end; day += kSecondsPerDay) {
    buckets_.push_back({std::max(m.begin, day), std::min(m.end, day + kSecondsPerDay)});
  }
  shares_.resize(buckets_.size());
  remainders_.resize(buckets_.size());
}

void DaySplitter::Stamp(model::Record& r) const {
  r.interval_begin = begin_;
  r.interval_end = end_;
  r.normalized_timespan = false;
}

void DaySplitter::Split(model::Record&& r, std::vector<model::Record>& out) {
  Stamp(r);
  if (!split_) {
    out.push_back(std::move(r));
    return;
  }
  const auto total = static_cast<double>(end_ - begin_);
  std::uint64_t assigned = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    const double exact = static_cast<double>(r.count) *
                         static_cast<double>(buckets_[i].end - buckets_[i].begin) / total;
    shares_[i] = static_cast<std::uint64_t>(exact);
    remainders_[i] = {exact - static_cast<double>(shares_[i]), i};
    assigned += shares_[i];
  }
  std::stable_sort(remainders_.begin(), remainders_.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t k = 0; assigned < r.count && k < remainders_.size(); ++k, ++assigned) {
    ++shares_[remainders_[k].second];
  }
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    if (shares_[i] == 0) continue;
    model::Record copy = r;
    copy.count = shares_[i];
    copy.interval_begin = buckets_[i].begin;
    copy.interval_end = buckets_[i].end;
    copy.normalized_timespan = true;
    out.push_back(std::move(copy));
  }
}

}  // namespace dmarc::parse::internal
