#include "pipeline/extract.h"

#include <fmt/format.h>

#include "archive/archive.h"
#include "base/text.h"
#include "base/time.h"
#include "mime/mime.h"
#include "parse/smtp_tls.h"
#include "pipeline/classify.h"
#include "store/sha256.h"

namespace dmarc::pipeline {

namespace {

using archive::Kind;

// At most kMaxRejectionText bytes of a text, still valid UTF-8.
std::string Bounded(std::string_view text) {
  if (text.size() <= kMaxRejectionText) return std::string(text);
  std::string out(text.substr(0, kMaxRejectionText));
  RepairUtf8(out);
  return out + "...";
}

// What a rejection keeps of an item read as a stream, never held whole: its size, its SHA-256
// (only when rejections keep them) and its first bytes, up to what the input's budget for them
// allowed when it began.
class ItemTrace {
 public:
  ItemTrace(bool keep, std::size_t head_bytes) : keep_(keep), head_bytes_(keep ? head_bytes : 0) {}
  void Add(std::string_view bytes) {
    size_ += bytes.size();
    if (!keep_) return;
    sha_.Update(bytes);
    if (head_.size() < head_bytes_) head_.append(bytes.substr(0, head_bytes_ - head_.size()));
  }
  std::uint64_t size() const { return size_; }
  const std::string& head() const { return head_; }
  const std::string& Sha256Hex() {
    if (hex_.empty()) hex_ = sha_.Hex();
    return hex_;
  }

 private:
  bool keep_;
  std::size_t head_bytes_;
  std::uint64_t size_ = 0;
  std::string head_;
  store::Sha256 sha_;
  std::string hex_;
};

// The item a rejection is about: bytes in memory, or a stream's trace.
struct Item {
  Item(std::string_view b) : bytes(b) {}  // NOLINT(google-explicit-constructor)
  Item(ItemTrace& t) : trace(&t) {}       // NOLINT(google-explicit-constructor)
  std::uint64_t size() const { return trace ? trace->size() : bytes.size(); }
  std::string_view bytes;
  ItemTrace* trace = nullptr;
};

// A stream sink's records, counted on their way to it.
class CountingSink : public parse::AggregateSink {
 public:
  explicit CountingSink(std::unique_ptr<parse::AggregateSink> inner) : inner_(std::move(inner)) {}
  Status OnHeader(const model::AggregateReport& header) override {
    return inner_->OnHeader(header);
  }
  Status OnRecords(std::vector<model::Record>& records) override {
    records_ += records.size();
    return inner_->OnRecords(records);
  }
  Status OnEnd(const std::vector<std::string>& errors) override { return inner_->OnEnd(errors); }
  Status OnRawXml(std::string_view piece) override { return inner_->OnRawXml(piece); }
  std::uint64_t records() const { return records_; }
  std::unique_ptr<parse::AggregateSink> Release() { return std::move(inner_); }

 private:
  std::unique_ptr<parse::AggregateSink> inner_;
  std::uint64_t records_ = 0;
};

// LooksLikeAggregateXml's look-ahead: a payload's first bytes, before it is judged.
constexpr std::size_t kSniffBytes = 64 * 1024;

class Extractor;

// One payload as it is inflated (a gzip stream, a zip entry, a plain XML input read in pieces):
// buffered up to ExtractOptions::stream_bytes; a payload that ends under it is unpacked as
// bytes in memory (Extractor::Unpack, as without streaming). Once past it, an aggregate
// report's XML goes to an AggregateStreamParser, the buffered start then every later piece;
// any other payload is buffered whole (bounded by the decompression budget) and unpacked at the
// end.
class PayloadRouter {
 public:
  PayloadRouter(Extractor& x, std::string origin, int depth, bool inside_mail)
      : x_(x), origin_(std::move(origin)), depth_(depth), inside_mail_(inside_mail) {}
  Status Add(std::string_view piece);
  // Streams from the first byte on (an aggregate report in memory, larger than stream_bytes).
  void StreamNow();
  // The payload is complete: the reports found in it (or rejections charged to it).
  std::size_t End();

 private:
  enum class Mode { kBuffering, kWhole, kStreaming, kFailed };
  void Decide();
  void Feed(std::string_view piece);

  Extractor& x_;
  std::string origin_;
  int depth_;
  bool inside_mail_;
  Mode mode_ = Mode::kBuffering;
  std::string buffer_;
  std::optional<ItemTrace> trace_;  // the XML streamed, for a rejection
  std::unique_ptr<CountingSink> sink_;
  std::unique_ptr<parse::AggregateStreamParser> parser_;
  std::string error_;  // why the streamed report is rejected (kFailed)
};

class Extractor {
 public:
  Extractor(const ExtractOptions& options, Extracted& out)
      : options_(options),
        out_(out),
        budget_(options.limits().max_decompressed_bytes),
        raw_left_(options.limits().max_rejected_bytes) {}

  // Returns the number of reports found in (or rejections charged to) these bytes.
  std::size_t Unpack(std::string_view bytes, const std::string& origin, int depth,
                     bool inside_mail) {
    if (over_budget_) return 0;
    if (depth > options_.limits().max_nesting) {
      return Reject(origin,
                    fmt::format("containers nested more than {} deep (--max-nesting)",
                                options_.limits().max_nesting),
                    bytes);
    }
    switch (archive::Sniff(bytes)) {
      case Kind::kGzip:
        return UnpackGzip(bytes, origin, depth, inside_mail);
      case Kind::kZip:
        return UnpackZip(bytes, origin, depth);
      case Kind::kXml:
        return ParseXml(bytes, origin, inside_mail);
      case Kind::kJson:
        return ParseJson(bytes, origin, inside_mail);
      case Kind::kMail:
        return UnpackMail(bytes, origin, depth, inside_mail);
      case Kind::kMbox:
        if (inside_mail) return 0;
        return UnpackMbox(bytes, origin, depth);
      case Kind::kEmpty:
        if (inside_mail) return 0;
        return Reject(origin, "empty input", bytes);
      case Kind::kUnknown:
        break;
    }
    if (inside_mail) return 0;
    return Reject(origin,
                  "not a recognized report format (not XML, JSON, gzip, zip, a mail or an mbox)",
                  bytes);
  }

  // After the walk: an input over its decompression budget is rejected as a whole (its reports
  // dropped too: it is an attack, and holding them is what the budget prevents); rejections over
  // Limits::max_rejections are counted in one last one.
  void Finish(Item input, const std::string& origin) {
    const Limits& limits = options_.limits();
    if (over_budget_) {
      out_ = Extracted{};
      raw_left_ = limits.max_rejected_bytes;
      Keep(origin, fmt::format("{}: the whole input is rejected", *over_budget_), input);
    } else if (dropped_ > 0) {
      Keep(origin,
           fmt::format("{} more rejection(s) in this input, not kept: over the limit of {} per "
                       "input (--max-rejections)",
                       dropped_, limits.max_rejections),
           input);
    }
  }

  // ---- What PayloadRouter uses. ----
  const ExtractOptions& options() const { return options_; }
  bool Streaming() const { return options_.stream_bytes > 0 && options_.stream_sink != nullptr; }
  // The trace of an item about to be streamed, keeping what the input's budget still allows.
  ItemTrace NewTrace() const { return {options_.keep_rejected, raw_left_}; }
  // A streamed report whose sink got OnEnd.
  std::size_t AcceptStreamed(const std::string& origin, std::unique_ptr<CountingSink> sink) {
    ++out_.streamed_reports;
    out_.streamed_records += sink->records();
    out_.streamed.push_back({origin, out_.reports.size(), sink->records(), sink->Release()});
    return 1;
  }
  // A rejection of `item`, the bytes `origin` names, keeping its first bytes while the input's
  // budget for them lasts.
  std::size_t Reject(const std::string& origin, std::string_view reason, Item item) {
    if (out_.rejections.size() >= options_.limits().max_rejections) {
      ++dropped_;
      return 1;
    }
    Keep(origin, reason, item);
    return 1;
  }

  // An input read piece by piece (ExtractReportsInPieces).
  void UnpackPieces(const ReadPieces& read, const std::string& origin);

 private:
  void Keep(const std::string& origin, std::string_view reason, Item item) {
    if (!options_.keep_rejected) {
      out_.rejections.push_back({Bounded(origin), Bounded(reason), {}, item.size(), {}});
      return;
    }
    if (item.trace) {
      const std::size_t keep = std::min(item.trace->head().size(), raw_left_);
      raw_left_ -= keep;
      out_.rejections.push_back(
          {Bounded(origin), Bounded(reason), item.trace->Sha256Hex(), item.trace->size(),
           RejectedBytesToKeep(item.trace->head(), keep, options_.keep_sample)});
      return;
    }
    const std::size_t keep = std::min(item.bytes.size(), raw_left_);
    raw_left_ -= keep;
    out_.rejections.push_back(RejectItem(origin, reason, item.bytes, keep, options_.keep_sample));
  }

  std::size_t UnpackGzip(std::string_view bytes, const std::string& origin, int depth,
                         bool inside_mail) {
    if (!Streaming()) {
      auto data = archive::Gunzip(bytes, options_.limits(), budget_);
      if (!data)
        return budget_.exhausted() ? OverBudget(data.error()) : Reject(origin, data.error(), bytes);
      return Unpack(data->data, origin, depth + 1, inside_mail);
    }
    PayloadRouter router(*this, origin, depth + 1, inside_mail);
    auto done = archive::GunzipTo(bytes, options_.limits(), budget_,
                                  [&](std::string_view piece) { return router.Add(piece); });
    if (!done)
      return budget_.exhausted() ? OverBudget(done.error()) : Reject(origin, done.error(), bytes);
    return router.End();
  }

  // The input spent its whole decompression budget: nothing more of it is read.
  std::size_t OverBudget(const std::string& reason) {
    if (!over_budget_) over_budget_ = reason;
    return 1;
  }

  std::size_t ParseXml(std::string_view bytes, const std::string& origin, bool inside_mail) {
    if (!parse::LooksLikeAggregateXml(bytes)) {
      // An HTML body or other XML part of a mail is not a report and not an error.
      if (inside_mail) return 0;
      return Reject(origin, "XML but not a DMARC aggregate report (no <feedback> element)", bytes);
    }
    if (Streaming() && bytes.size() > options_.stream_bytes) {
      // Held whole already (a mail's part), but not parsed whole: no tree of it is built.
      PayloadRouter router(*this, origin, 0, inside_mail);
      router.StreamNow();
      for (std::size_t at = 0; at < bytes.size(); at += archive::kStreamChunkBytes) {
        (void)router.Add(bytes.substr(at, archive::kStreamChunkBytes));
      }
      return router.End();
    }
    const ParseGate::Pass pass = options_.gate
                                     ? options_.gate->Enter(bytes.size() * kParseBytesPerXmlByte)
                                     : ParseGate::Pass();
    auto report = parse::ParseAggregateXml(bytes, options_.aggregate);
    if (!report) return Reject(origin, report.error(), bytes);
    FoundReport found{origin, std::move(report).value(), {}, 0};
    if (options_.keep_raw_xml &&
        !(options_.already_stored && options_.already_stored(found.aggregate))) {
      // Compression fails only without memory; the report is stored without its XML then. In
      // the store's encoding (store::kRawXmlEncoding).
      if (auto packed = archive::Zstd(bytes)) {
        found.raw_xml_packed = std::move(packed).value();
        found.raw_xml_size = bytes.size();
      }
    }
    out_.reports.push_back(std::move(found));
    return 1;
  }

  std::size_t ParseJson(std::string_view bytes, const std::string& origin, bool inside_mail) {
    // Other JSON attached to a mail is not a report and not an error.
    if (inside_mail && !parse::LooksLikeSmtpTlsJson(bytes)) return 0;
    out_.payload_bytes += bytes.size();
    auto report = parse::ParseSmtpTlsJson(bytes, options_.limits());
    if (!report) return Reject(origin, report.error(), bytes);
    out_.smtp_tls.push_back({origin, std::move(report).value()});
    return 1;
  }

  static model::EmailAddress ToModel(const mime::Address& a) {
    model::EmailAddress out;
    if (!a.name.empty()) out.display_name = a.name;
    out.address = a.address;
    const std::size_t at = a.address.rfind('@');
    if (at != std::string::npos) {
      out.local = a.address.substr(0, at);
      out.domain = ToLowerAscii(a.address.substr(at + 1));
    }
    return out;
  }

  static model::FailureSample ToModel(mime::Sample&& s) {
    model::FailureSample out;
    out.headers.reserve(s.headers.size());
    for (auto& h : s.headers) out.headers.emplace_back(std::move(h.name), std::move(h.value));
    if (!s.subject.empty()) out.subject = std::move(s.subject);
    if (!s.message_id.empty()) out.message_id = std::move(s.message_id);
    if (s.date) out.date = FormatUtc(*s.date);
    if (!s.from.empty()) out.from = ToModel(s.from.front());
    for (const auto& a : s.to) out.to.push_back(ToModel(a));
    for (const auto& a : s.cc) out.cc.push_back(ToModel(a));
    out.body = std::move(s.body);
    out.has_defects = !s.warnings.empty();
    return out;
  }

  // A failure report from its feedback fields and the reported message (or its headers).
  std::size_t BuildFailure(const mime::Mail& mail, std::string_view raw,
                           std::vector<parse::Field>&& fields, std::string_view sample,
                           bool headers_only, const std::string& origin,
                           std::vector<std::string> notes = {}) {
    out_.payload_bytes += raw.size();
    parse::FailureInput in;
    in.fields = std::move(fields);
    in.mail_date = mail.date;
    if (mail.date) in.mail_date_text = FormatUtc(*mail.date);
    in.parse_date = [](std::string_view t) { return mime::ParseMailDate(t); };
    if (!sample.empty()) {
      const bool full = options_.keep_sample == parse::KeepSample::kFull;
      auto parsed = mime::ParseSample(sample, options_.limits(), full);
      if (parsed) {
        notes.insert(notes.end(), parsed->warnings.begin(), parsed->warnings.end());
        in.parsed_sample = ToModel(std::move(parsed).value());
      } else {
        notes.push_back(parsed.error());
      }
      in.sample = std::string(sample);
      in.sample_headers_only =
          headers_only || Trim(sample.substr(parse::HeaderBlockOf(sample).size())).empty();
    } else {
      notes.push_back("the report carries no copy of the reported message");
      in.sample_headers_only = true;
    }
    parse::FailureOptions fo{options_.limits(), options_.keep_sample};
    auto report = parse::BuildFailureReport(std::move(in), fo);
    if (!report) return Reject(origin, report.error(), raw);
    for (auto& n : notes) report->errors.push_back(std::move(n));
    out_.failures.push_back({origin, std::move(report).value()});
    return 1;
  }

  // An ARF mail (a message/feedback-report part) is a failure report, whatever else it holds;
  // nullopt when the mail has no such part.
  std::optional<std::size_t> TryArf(const mime::Mail& mail, std::string_view raw,
                                    const std::string& origin) {
    auto parent = [](const std::string& path) {
      const std::size_t dot = path.rfind('.');
      return dot == std::string::npos ? std::string() : path.substr(0, dot);
    };
    auto is_sample = [](const mime::Part& p) {
      return p.content_type == "message/rfc822" || p.content_type == "text/rfc822-headers";
    };
    const mime::Part* feedback = nullptr;
    const mime::Part* sample = nullptr;
    for (const auto& part : mail.parts) {
      if (part.content_type == "message/feedback-report") {
        feedback = &part;
        break;
      }
    }
    // The reported message is the feedback part's sibling (a forwarded report is itself a
    // message/rfc822 part, one level up); failing that, the first one after it.
    if (feedback) {
      for (const auto& part : mail.parts) {
        if (is_sample(part) && parent(part.path) == parent(feedback->path)) {
          sample = &part;
          break;
        }
      }
      for (std::size_t i = static_cast<std::size_t>(feedback - mail.parts.data()) + 1;
           !sample && i < mail.parts.size(); ++i) {
        if (is_sample(mail.parts[i])) sample = &mail.parts[i];
      }
    }
    if (!feedback) return std::nullopt;
    std::vector<parse::Field> fields;
    bool truncated = false;
    for (auto& h : mime::ParseHeaderBlock(feedback->data, options_.limits(), &truncated)) {
      fields.emplace_back(std::move(h.name), std::move(h.value));
    }
    if (fields.empty()) {
      return Reject(origin, "ARF report: the feedback-report part is empty", raw);
    }
    std::vector<std::string> notes;
    if (truncated) {
      notes.push_back(fmt::format("more than {} feedback fields: the rest were skipped",
                                  options_.limits().max_headers));
    }
    return BuildFailure(mail, raw, std::move(fields), sample ? sample->data : std::string_view(),
                        sample && sample->content_type == "text/rfc822-headers", origin,
                        std::move(notes));
  }

  // Exim's failure reports are plain text, with no ARF part.
  std::optional<std::size_t> TryPlainTextFailure(const mime::Mail& mail, std::string_view raw,
                                                 const std::string& origin) {
    for (const auto& part : mail.parts) {
      if (part.content_type != "text/plain") continue;
      auto text = parse::ReadPlainTextFailure(part.data);
      if (!text) continue;
      return BuildFailure(mail, raw, std::move(text->fields), text->sample,
                          /*headers_only=*/true, origin);
    }
    return std::nullopt;
  }

  std::size_t UnpackZip(std::string_view bytes, const std::string& origin, int depth) {
    if (Streaming()) return UnpackZipStreamed(bytes, origin, depth);
    std::size_t found = 0;
    auto n = archive::ForEachZipEntry(
        bytes, options_.limits(), budget_,
        [&](archive::ZipEntry&& entry) {
          // Entries are parsed from memory; a name is only a label, never a path we open.
          found += Unpack(entry.data, fmt::format("{}[{}]", origin, Bounded(entry.name)), depth + 1,
                          /*inside_mail=*/true);
        },
        // An entry that cannot be read has no bytes of its own: the archive's are kept.
        [&](const std::string& name, const std::string& reason) {
          found += Reject(fmt::format("{}[{}]", origin, Bounded(name)), reason, bytes);
        });
    if (!n) return budget_.exhausted() ? OverBudget(n.error()) : Reject(origin, n.error(), bytes);
    if (found == 0) return Reject(origin, "zip archive contains no report", bytes);
    return found;
  }

  // UnpackZip with each entry inflated into a PayloadRouter.
  std::size_t UnpackZipStreamed(std::string_view bytes, const std::string& origin, int depth) {
    std::size_t found = 0;
    std::optional<PayloadRouter> entry;
    archive::ZipStreamVisitor visit;
    // Entries are parsed from memory; a name is only a label, never a path we open.
    visit.begin = [&](const std::string& name) {
      entry.emplace(*this, fmt::format("{}[{}]", origin, Bounded(name)), depth + 1,
                    /*inside_mail=*/true);
      return true;
    };
    visit.chunk = [&](std::string_view piece) { return entry ? entry->Add(piece) : Ok(); };
    visit.end = [&](const std::string&) {
      if (entry) found += entry->End();
      entry.reset();
    };
    auto n = archive::ForEachZipEntryStreamed(
        bytes, options_.limits(), budget_, visit,
        // An entry that cannot be read has no bytes of its own: the archive's are kept. What a
        // broken entry handed out before is dropped with its router.
        [&](const std::string& name, const std::string& reason) {
          entry.reset();
          found += Reject(fmt::format("{}[{}]", origin, Bounded(name)), reason, bytes);
        });
    entry.reset();
    if (!n) return budget_.exhausted() ? OverBudget(n.error()) : Reject(origin, n.error(), bytes);
    if (found == 0) return Reject(origin, "zip archive contains no report", bytes);
    return found;
  }

  // The parts of a mail (raw: its bytes), and a rejection when it has more parts than the limit
  // (the parts before it are read).
  std::size_t UnpackParts(mime::Mail& mail, std::string_view raw, const std::string& origin,
                          int depth, bool nested) {
    std::size_t found = ReadParts(mail, raw, origin, depth, nested);
    if (mail.too_many_parts) {
      found += Reject(origin,
                      fmt::format("more than {} MIME parts (--max-parts): the parts after them "
                                  "were not read",
                                  options_.limits().max_mime_parts),
                      raw);
    }
    return found;
  }

  // A mail that is itself an input (or an mbox message) must hold a report; a mail attached
  // inside another one (a forwarded message, an ARF sample) need not.
  std::size_t ReadParts(mime::Mail& mail, std::string_view raw, const std::string& origin,
                        int depth, bool nested) {
    if (auto n = TryArf(mail, raw, origin)) return *n;
    std::size_t found = 0;
    for (auto& part : mail.parts) {
      if (part.is_message) continue;  // its own parts follow in the list
      // A mail's HTML text (Microsoft's reports come with one) is never a report, whatever it says.
      if (part.content_type == "text/html" && part.filename.empty()) continue;
      const std::string label =
          part.filename.empty()
              ? fmt::format("{}[part {}]", origin, part.path)
              : fmt::format("{}[part {}: {}]", origin, part.path, Bounded(part.filename));
      found += Unpack(part.data, label, depth + 1, /*inside_mail=*/true);
      if (part.content_type != "text/plain") {  // kept for the plain-text failure report check
        part.data.clear();
        part.data.shrink_to_fit();
      }
    }
    if (found == 0) {
      if (auto n = TryPlainTextFailure(mail, raw, origin)) return *n;
    }
    if (found == 0 && !nested) {
      return Reject(origin,
                    mail.subject.empty()
                        ? std::string("mail contains no DMARC report")
                        : fmt::format("mail contains no DMARC report (subject \"{}\")",
                                      Bounded(mail.subject)),
                    raw);
    }
    return found;
  }

  std::size_t UnpackMail(std::string_view bytes, const std::string& origin, int depth,
                         bool nested) {
    auto mail = mime::ParseMail(bytes, options_.limits());
    if (!mail) return nested ? 0 : Reject(origin, mail.error(), bytes);
    return UnpackParts(*mail, bytes, origin, depth, nested);
  }

  std::size_t UnpackMbox(std::string_view bytes, const std::string& origin, int depth) {
    std::size_t found = 0;
    auto n = mime::ForEachMboxMail(
        bytes, options_.limits(),
        [&](std::size_t index, Result<mime::Mail>&& mail, std::string_view raw) {
          if (over_budget_) return;
          const std::string label = fmt::format("{}[message {}]", origin, index);
          if (!mail) {
            found += Reject(label, mail.error(), raw);
          } else {
            found += UnpackParts(*mail, raw, label, depth + 1, /*nested=*/false);
          }
        });
    if (!n) found += Reject(origin, n.error(), bytes);
    return found;
  }

  const ExtractOptions& options_;
  Extracted& out_;
  archive::DecompressionBudget budget_;     // one for the whole input, every level of nesting
  std::size_t raw_left_;                    // bytes the input's rejections may still keep
  std::size_t dropped_ = 0;                 // rejections over Limits::max_rejections
  std::optional<std::string> over_budget_;  // why the input as a whole is rejected
};

// ---- PayloadRouter ----

Status PayloadRouter::Add(std::string_view piece) {
  switch (mode_) {
    case Mode::kBuffering:
      buffer_.append(piece);
      if (buffer_.size() > x_.options().stream_bytes) Decide();
      break;
    case Mode::kWhole:
      buffer_.append(piece);
      break;
    case Mode::kStreaming:
    case Mode::kFailed:
      Feed(piece);
      break;
  }
  return Ok();
}

// Past stream_bytes: an aggregate report is streamed, anything else buffered whole. A report
// nested too deep is left to Unpack, which rejects it.
void PayloadRouter::Decide() {
  if (depth_ > x_.options().limits().max_nesting || archive::Sniff(buffer_) != Kind::kXml) {
    mode_ = Mode::kWhole;
    return;
  }
  if (!parse::LooksLikeAggregateXml(buffer_)) {
    if (buffer_.size() >= kSniffBytes) mode_ = Mode::kWhole;
    return;  // else judged again once the look-ahead is there
  }
  const std::string buffered = std::move(buffer_);
  buffer_ = std::string();
  StreamNow();
  Feed(buffered);
}

void PayloadRouter::StreamNow() {
  auto sink = x_.options().stream_sink(origin_);
  if (!sink) {
    mode_ = Mode::kWhole;
    return;
  }
  trace_.emplace(x_.NewTrace());
  sink_ = std::make_unique<CountingSink>(std::move(sink));
  parse::AggregateStreamOptions options;
  options.aggregate = x_.options().aggregate;
  parser_ = std::make_unique<parse::AggregateStreamParser>(options, *sink_);
  mode_ = Mode::kStreaming;
}

// A report that failed midway is still traced to its end: its rejection names the whole item.
void PayloadRouter::Feed(std::string_view piece) {
  trace_->Add(piece);
  if (mode_ != Mode::kStreaming) return;
  Status s = parser_->Feed(piece);
  if (s && x_.options().keep_raw_xml) s = sink_->OnRawXml(piece);
  if (!s) {
    error_ = s.error();
    mode_ = Mode::kFailed;
    parser_.reset();
    sink_.reset();
  }
}

std::size_t PayloadRouter::End() {
  if (mode_ == Mode::kBuffering || mode_ == Mode::kWhole) {
    const std::string payload = std::move(buffer_);
    buffer_ = std::string();
    return x_.Unpack(payload, origin_, depth_, inside_mail_);
  }
  if (mode_ == Mode::kStreaming) {
    if (Status s = parser_->Finish(); !s) {
      error_ = s.error();
      mode_ = Mode::kFailed;
    }
    parser_.reset();
  }
  if (mode_ == Mode::kFailed) {
    sink_.reset();
    return x_.Reject(origin_, error_, *trace_);
  }
  return x_.AcceptStreamed(origin_, std::move(sink_));
}

// The input's first piece decides: a gzip stream is inflated into a router, plain XML goes to
// one as it is, anything else is collected whole. Every piece is traced: a rejection of the
// whole input names all of it.
void Extractor::UnpackPieces(const ReadPieces& read, const std::string& origin) {
  ItemTrace input = NewTrace();
  std::optional<archive::GzipInflater> inflater;
  std::optional<PayloadRouter> router;
  std::optional<std::string> whole;
  std::optional<std::string> failed;  // the inflater's error: later pieces are only traced
  auto to_router = [&](std::string_view piece) { return router->Add(piece); };
  Status got = read([&](std::string_view piece) -> Status {
    input.Add(piece);
    if (!router && !whole) {
      const Kind kind = archive::Sniff(piece);
      if (kind == Kind::kGzip) inflater.emplace(options_.limits(), budget_);
      if (kind == Kind::kGzip || kind == Kind::kXml) {
        router.emplace(*this, origin, inflater ? 1 : 0, /*inside_mail=*/false);
      } else {
        whole.emplace();
      }
    }
    if (whole) {
      whole->append(piece);
    } else if (!inflater) {
      return router->Add(piece);
    } else if (!failed) {
      if (Status s = inflater->Feed(piece, to_router); !s) failed = s.error();
    }
    return Ok();
  });
  if (got && inflater && !failed) {
    auto finished = inflater->Finish(to_router);
    if (!finished) failed = finished.error();
  }
  if (!got || failed) {
    router.reset();
    if (failed && budget_.exhausted()) {
      OverBudget(*failed);
    } else {
      Reject(origin, got ? *failed : got.error(), input);
    }
  } else if (whole) {
    Unpack(*whole, origin, 0, /*inside_mail=*/false);
  } else if (router) {
    router->End();
  } else {
    Reject(origin, "empty input", input);
  }
  if (whole) {
    Finish(std::string_view(*whole), origin);
  } else {
    Finish(input, origin);
  }
}

}  // namespace

Rejection RejectItem(std::string_view origin, std::string_view reason, std::string_view item,
                     std::size_t raw_bytes, parse::KeepSample keep) {
  return {Bounded(origin), Bounded(reason), store::Sha256Hex(item), item.size(),
          RejectedBytesToKeep(item, raw_bytes, keep)};
}

Extracted ExtractReports(std::string_view bytes, const std::string& origin,
                         const ExtractOptions& options) {
  Extracted out;
  Extractor extractor(options, out);
  extractor.Unpack(bytes, origin, 0, /*inside_mail=*/false);
  extractor.Finish(bytes, origin);
  return out;
}

Extracted ExtractReportsInPieces(const ReadPieces& read, const std::string& origin,
                                 const ExtractOptions& options) {
  Extracted out;
  Extractor extractor(options, out);
  extractor.UnpackPieces(read, origin);
  return out;
}

}  // namespace dmarc::pipeline
