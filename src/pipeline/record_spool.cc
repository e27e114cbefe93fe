#include "pipeline/record_spool.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace dmarc::pipeline {

namespace {

// Integers as 8 little-endian bytes (this machine's order: the spool never leaves the process).
void PutInt(std::uint64_t v, std::string& out) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
void PutStr(std::string_view s, std::string& out) {
  PutInt(s.size(), out);
  out.append(s);
}
void PutOpt(const model::OptString& s, std::string& out) {
  out += s ? '\1' : '\0';
  if (s) PutStr(*s, out);
}

struct Reader {
  std::string_view& in;
  bool ok = true;

  std::uint64_t Int() {
    std::uint64_t v = 0;
    if (in.size() < sizeof v) {
      ok = false;
      return 0;
    }
    std::memcpy(&v, in.data(), sizeof v);
    in.remove_prefix(sizeof v);
    return v;
  }
  // Strings are assigned into the record's own (a record read over another reuses its buffers).
  void Str(std::string& s) {
    const std::uint64_t n = Int();
    if (!ok || in.size() < n) {
      ok = false;
      s.clear();
      return;
    }
    s.assign(in.data(), n);
    in.remove_prefix(n);
  }
  void Opt(model::OptString& s) {
    if (in.empty()) {
      ok = false;
      s.reset();
      return;
    }
    const bool present = in.front() != '\0';
    in.remove_prefix(1);
    if (!present) {
      s.reset();
      return;
    }
    if (!s) s.emplace();
    Str(*s);
  }
  bool Bool() { return Int() != 0; }
  std::int64_t I64() { return static_cast<std::int64_t>(Int()); }
};

}  // namespace

void EncodeRecord(const model::Record& rec, std::string& out) {
  PutInt(static_cast<std::uint64_t>(rec.interval_begin), out);
  PutInt(static_cast<std::uint64_t>(rec.interval_end), out);
  PutInt(rec.normalized_timespan ? 1 : 0, out);
  const auto& src = rec.source;
  PutStr(src.ip_address, out);
  PutOpt(src.country, out);
  PutOpt(src.reverse_dns, out);
  PutOpt(src.base_domain, out);
  PutOpt(src.name, out);
  PutOpt(src.type, out);
  out += src.asn ? '\1' : '\0';
  if (src.asn) PutInt(static_cast<std::uint64_t>(*src.asn), out);
  PutOpt(src.as_name, out);
  PutOpt(src.as_domain, out);
  PutInt(rec.count, out);
  PutInt((rec.alignment.spf ? 1u : 0u) | (rec.alignment.dkim ? 2u : 0u) |
             (rec.alignment.dmarc ? 4u : 0u),
         out);
  const auto& ev = rec.policy_evaluated;
  PutStr(ev.disposition, out);
  PutStr(ev.dkim, out);
  PutStr(ev.spf, out);
  PutInt(ev.policy_override_reasons.size(), out);
  for (const auto& o : ev.policy_override_reasons) {
    PutOpt(o.type, out);
    PutOpt(o.comment, out);
  }
  PutStr(rec.identifiers.header_from, out);
  PutOpt(rec.identifiers.envelope_from, out);
  PutOpt(rec.identifiers.envelope_to, out);
  auto result = [&](const auto& x, const std::string& middle) {
    PutStr(x.domain, out);
    PutStr(middle, out);
    PutStr(x.result, out);
    PutOpt(x.human_result, out);
  };
  PutInt(rec.dkim.size(), out);
  for (const auto& d : rec.dkim) result(d, d.selector);
  PutInt(rec.spf.size(), out);
  for (const auto& x : rec.spf) result(x, x.scope);
}

bool DecodeRecord(std::string_view& in, model::Record& rec) {
  Reader r{in};
  rec.interval_begin = r.I64();
  rec.interval_end = r.I64();
  rec.normalized_timespan = r.Bool();
  auto& src = rec.source;
  r.Str(src.ip_address);
  r.Opt(src.country);
  r.Opt(src.reverse_dns);
  r.Opt(src.base_domain);
  r.Opt(src.name);
  r.Opt(src.type);
  if (in.empty()) return false;
  const bool has_asn = in.front() != '\0';
  in.remove_prefix(1);
  src.asn.reset();
  if (has_asn) src.asn = r.I64();
  r.Opt(src.as_name);
  r.Opt(src.as_domain);
  rec.count = r.Int();
  const std::uint64_t aligned = r.Int();
  rec.alignment = {(aligned & 1u) != 0, (aligned & 2u) != 0, (aligned & 4u) != 0};
  auto& ev = rec.policy_evaluated;
  r.Str(ev.disposition);
  r.Str(ev.dkim);
  r.Str(ev.spf);
  // A list: its length (never more than the bytes left: each element takes one at least), then
  // each element.
  auto list = [&](auto& items, auto&& read_one) {
    const std::uint64_t n = r.Int();
    if (!r.ok || n > in.size()) return false;
    items.resize(n);
    for (auto& item : items) read_one(item);
    return true;
  };
  auto result = [&](auto& x, std::string& middle) {
    r.Str(x.domain);
    r.Str(middle);
    r.Str(x.result);
    r.Opt(x.human_result);
  };
  if (!list(ev.policy_override_reasons, [&](model::PolicyOverrideReason& o) {
        r.Opt(o.type);
        r.Opt(o.comment);
      })) {
    return false;
  }
  r.Str(rec.identifiers.header_from);
  r.Opt(rec.identifiers.envelope_from);
  r.Opt(rec.identifiers.envelope_to);
  if (!list(rec.dkim, [&](model::DkimAuthResult& d) { result(d, d.selector); }) ||
      !list(rec.spf, [&](model::SpfAuthResult& x) { result(x, x.scope); })) {
    return false;
  }
  return r.ok;
}

Status RecordSpool::Add(const std::vector<model::Record>& records) {
  for (const auto& rec : records) {
    encoded_.clear();
    encoded_.append(sizeof(std::uint64_t), '\0');
    EncodeRecord(rec, encoded_);
    const std::uint64_t size = encoded_.size() - sizeof size;
    std::memcpy(encoded_.data(), &size, sizeof size);
    if (!spool_.Add(encoded_)) {
      return MakeError(
          fmt::format("temporary file for a streamed report failed: {}", std::strerror(errno)));
    }
    ++count_;
  }
  return Ok();
}

Status RecordSpool::Rewind() {
  read_ = 0;
  if (!spool_.Rewind()) {
    return MakeError(fmt::format("temporary file for a streamed report cannot be read back: {}",
                                 std::strerror(errno)));
  }
  return Ok();
}

Status RecordSpool::Next(std::vector<model::Record>& out, std::size_t max) {
  // The records already in `out` are read over: their strings keep their buffers.
  std::size_t n = 0;
  auto broken = [&] {
    out.clear();
    return MakeError("temporary file for a streamed report: short read");
  };
  while (n < max && read_ < count_) {
    std::uint64_t size = 0;
    if (spool_.Read(reinterpret_cast<char*>(&size), sizeof size) != sizeof size) return broken();
    encoded_.resize(size);
    if (spool_.Read(encoded_.data(), size) != size) return broken();
    std::string_view in = encoded_;
    if (n == out.size()) out.emplace_back();
    if (!DecodeRecord(in, out[n]) || !in.empty()) return broken();
    ++n;
    ++read_;
  }
  out.resize(n);
  return Ok();
}

}  // namespace dmarc::pipeline
