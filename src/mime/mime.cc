#include "mime/mime.h"

#include <fmt/format.h>
#include <gmime/gmime.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "base/text.h"

namespace dmarc::mime {

namespace {

void InitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

struct GObjectUnref {
  void operator()(void* p) const {
    if (p) g_object_unref(p);
  }
};
template <class T>
using GPtr = std::unique_ptr<T, GObjectUnref>;

GPtr<GMimeStream> MemoryStream(std::string_view bytes) {
  return GPtr<GMimeStream>(g_mime_stream_mem_new_with_buffer(bytes.data(), bytes.size()));
}

// Writes a data wrapper (decoding its transfer encoding) or an object into a string.
std::string StreamToString(GMimeStream* mem) {
  GByteArray* arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
  return std::string(reinterpret_cast<const char*>(arr->data), arr->len);
}

std::string ContentTypeOf(GMimeObject* obj) {
  GMimeContentType* ct = g_mime_object_get_content_type(obj);
  if (!ct) return "text/plain";
  const char* type = g_mime_content_type_get_media_type(ct);
  const char* sub = g_mime_content_type_get_media_subtype(ct);
  return ToLowerAscii(fmt::format("{}/{}", type ? type : "", sub ? sub : ""));
}

class Walker {
 public:
  Walker(const Limits& limits, Mail& mail) : limits_(limits), mail_(mail) {}

  void Walk(GMimeObject* obj, const std::string& path, int depth) {
    if (!obj) return;
    if (mail_.parts.size() >= limits_.max_mime_parts) {
      if (!mail_.too_many_parts) {
        mail_.warnings.push_back(
            fmt::format("more than {} MIME parts: the rest were skipped", limits_.max_mime_parts));
        mail_.too_many_parts = true;
      }
      return;
    }
    if (depth > limits_.max_nesting * 4) {
      mail_.warnings.push_back(fmt::format("part {}: nested too deeply, skipped", path));
      return;
    }
    if (GMIME_IS_MULTIPART(obj)) {
      GMimeMultipart* mp = GMIME_MULTIPART(obj);
      const int n = g_mime_multipart_get_count(mp);
      for (int i = 0; i < n; ++i) {
        Walk(g_mime_multipart_get_part(mp, i), Child(path, i + 1), depth + 1);
      }
    } else if (GMIME_IS_MESSAGE_PART(obj)) {
      GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
      Part part;
      part.path = path;
      part.content_type = ContentTypeOf(obj);
      part.is_message = true;
      if (inner) {
        GPtr<GMimeStream> mem(g_mime_stream_mem_new());
        g_mime_object_write_to_stream(GMIME_OBJECT(inner), nullptr, mem.get());
        part.data = StreamToString(mem.get());
      }
      mail_.parts.push_back(std::move(part));
      if (inner) Walk(g_mime_message_get_mime_part(inner), Child(path, 1), depth + 1);
    } else if (GMIME_IS_PART(obj)) {
      GMimePart* gp = GMIME_PART(obj);
      Part part;
      part.path = path;
      part.content_type = ContentTypeOf(obj);
      if (const char* fn = g_mime_part_get_filename(gp)) part.filename = fn;
      if (GMimeDataWrapper* content = g_mime_part_get_content(gp)) {
        GPtr<GMimeStream> mem(g_mime_stream_mem_new());
        g_mime_data_wrapper_write_to_stream(content, mem.get());
        part.data = StreamToString(mem.get());
      }
      mail_.parts.push_back(std::move(part));
    }
  }

 private:
  static std::string Child(const std::string& path, int i) {
    return path.empty() ? std::to_string(i) : fmt::format("{}.{}", path, i);
  }

  const Limits& limits_;
  Mail& mail_;
};

std::string HeaderText(const char* s) { return s ? std::string(s) : std::string(); }

Mail FromMessage(GMimeMessage* msg, const Limits& limits) {
  Mail mail;
  mail.subject = HeaderText(g_mime_message_get_subject(msg));
  mail.message_id = HeaderText(g_mime_message_get_message_id(msg));
  if (InternetAddressList* from = g_mime_message_get_from(msg)) {
    char* s = internet_address_list_to_string(from, nullptr, FALSE);
    mail.from = HeaderText(s);
    g_free(s);
  }
  if (InternetAddressList* to = g_mime_message_get_to(msg)) {
    char* s = internet_address_list_to_string(to, nullptr, FALSE);
    mail.to = HeaderText(s);
    g_free(s);
  }
  if (GDateTime* date = g_mime_message_get_date(msg)) {
    mail.date = g_date_time_to_unix(date);
  }
  Walker walker(limits, mail);
  GMimeObject* body = g_mime_message_get_mime_part(msg);
  // A single-part mail is part "1", as in IMAP's BODYSTRUCTURE numbering.
  walker.Walk(body, GMIME_IS_MULTIPART(body) ? "" : "1", 0);
  RepairUtf8(mail.subject);
  RepairUtf8(mail.from);
  RepairUtf8(mail.to);
  RepairUtf8(mail.message_id);
  return mail;
}

std::vector<Address> Addresses(InternetAddressList* list, std::size_t max) {
  std::vector<Address> out;
  if (!list) return out;
  const int n = internet_address_list_length(list);
  for (int i = 0; i < n && out.size() < max; ++i) {
    InternetAddress* ia = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_GROUP(ia)) {
      for (auto& a : Addresses(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)),
                               max - out.size())) {
        out.push_back(std::move(a));
      }
      continue;
    }
    Address a;
    a.name = HeaderText(internet_address_get_name(ia));
    if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
      a.address = HeaderText(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)));
    }
    RepairUtf8(a.name);
    RepairUtf8(a.address);
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<Header> HeadersOf(GMimeObject* obj, const Limits& limits, bool& truncated) {
  std::vector<Header> out;
  GMimeHeaderList* list = g_mime_object_get_header_list(obj);
  const int n = list ? g_mime_header_list_get_count(list) : 0;
  truncated = static_cast<std::size_t>(n) > limits.max_headers;
  for (int i = 0; i < n && out.size() < limits.max_headers; ++i) {
    GMimeHeader* h = g_mime_header_list_get_header_at(list, i);
    Header header{HeaderText(g_mime_header_get_name(h)), HeaderText(g_mime_header_get_value(h))};
    RepairUtf8(header.name);
    RepairUtf8(header.value);
    if (header.value.size() > limits.max_field_bytes) {
      header.value.resize(limits.max_field_bytes);
      RepairUtf8(header.value);
    }
    out.push_back(std::move(header));
  }
  return out;
}

// The text of every text/* leaf part, converted to UTF-8, joined by a blank line.
void CollectText(GMimeObject* obj, std::string& out, std::size_t max, int depth) {
  if (!obj || depth > 32 || out.size() >= max) return;
  if (GMIME_IS_MULTIPART(obj)) {
    GMimeMultipart* mp = GMIME_MULTIPART(obj);
    const int n = g_mime_multipart_get_count(mp);
    for (int i = 0; i < n; ++i) CollectText(g_mime_multipart_get_part(mp, i), out, max, depth + 1);
  } else if (GMIME_IS_TEXT_PART(obj)) {
    char* text = g_mime_text_part_get_text(GMIME_TEXT_PART(obj));
    if (text) {
      if (!out.empty()) out += "\n\n";
      out += text;
      g_free(text);
    }
  }
}

}  // namespace

Result<Sample> ParseSample(std::string_view bytes, const Limits& limits, bool with_body) {
  InitOnce();
  // A bare header block needs the blank line that ends a header section.
  std::string owned;
  if (bytes.find("\n\n") == std::string_view::npos &&
      bytes.find("\r\n\r\n") == std::string_view::npos) {
    owned.reserve(bytes.size() + 2);
    owned.append(bytes).append("\n\n");
    bytes = owned;
  }
  auto stream = MemoryStream(bytes);
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
  GPtr<GMimeMessage> msg(g_mime_parser_construct_message(parser.get(), nullptr));
  if (!msg) return MakeError("the reported message has no header block");
  Sample s;
  bool truncated = false;
  s.headers = HeadersOf(GMIME_OBJECT(msg.get()), limits, truncated);
  if (truncated) {
    s.warnings.push_back(
        fmt::format("the reported message has more than {} headers: the rest were skipped",
                    limits.max_headers));
  }
  s.subject = HeaderText(g_mime_message_get_subject(msg.get()));
  s.message_id = HeaderText(g_mime_message_get_message_id(msg.get()));
  RepairUtf8(s.subject);
  RepairUtf8(s.message_id);
  if (GDateTime* date = g_mime_message_get_date(msg.get())) s.date = g_date_time_to_unix(date);
  s.from = Addresses(g_mime_message_get_from(msg.get()), limits.max_headers);
  s.to = Addresses(g_mime_message_get_to(msg.get()), limits.max_headers);
  s.cc = Addresses(g_mime_message_get_cc(msg.get()), limits.max_headers);
  if (with_body) {
    std::string body;
    CollectText(g_mime_message_get_mime_part(msg.get()), body, limits.max_decompressed_bytes, 0);
    RepairUtf8(body);
    s.body = std::move(body);
  }
  return s;
}

std::vector<Header> ParseHeaderBlock(std::string_view bytes, const Limits& limits,
                                     bool* truncated) {
  InitOnce();
  std::string block(bytes);
  // Leading blank lines (some reporters start the part with one) would end the headers early.
  const std::size_t start = block.find_first_not_of("\r\n");
  block.erase(0, start == std::string::npos ? block.size() : start);
  block += "\n\n";
  auto stream = MemoryStream(block);
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
  GPtr<GMimeMessage> msg(g_mime_parser_construct_message(parser.get(), nullptr));
  if (!msg) return {};
  bool more = false;
  auto headers = HeadersOf(GMIME_OBJECT(msg.get()), limits, more);
  if (truncated) *truncated = more;
  return headers;
}

std::optional<std::int64_t> ParseMailDate(std::string_view text) {
  InitOnce();
  const std::string s(text);
  GDateTime* dt = g_mime_utils_header_decode_date(s.c_str());
  if (!dt) return std::nullopt;
  const std::int64_t t = g_date_time_to_unix(dt);
  g_date_time_unref(dt);
  return t;
}

Result<Mail> ParseMail(std::string_view bytes, const Limits& limits) {
  InitOnce();
  auto stream = MemoryStream(bytes);
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
  GPtr<GMimeMessage> msg(g_mime_parser_construct_message(parser.get(), nullptr));
  if (!msg) return MakeError("not a mail message (no header block)");
  return FromMessage(msg.get(), limits);
}

Result<std::size_t> ForEachMboxMail(std::string_view bytes, const Limits& limits,
                                    const MailVisitor& visit) {
  InitOnce();
  auto stream = MemoryStream(bytes);
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MBOX);
  std::size_t count = 0;
  while (!g_mime_parser_eos(parser.get())) {
    if (count >= limits.max_mbox_messages) {
      return MakeError(fmt::format("mbox has more than {} messages: the rest were skipped",
                                   limits.max_mbox_messages));
    }
    GPtr<GMimeMessage> msg(g_mime_parser_construct_message(parser.get(), nullptr));
    if (!msg) {
      if (count == 0) return MakeError("not an mbox file (no message found)");
      return MakeError(fmt::format("mbox message {} could not be read", count + 1));
    }
    ++count;
    // The message's own bytes: from its "From " line to where the parser stopped.
    const auto clamp = [&](gint64 offset) {
      return static_cast<std::size_t>(std::clamp<gint64>(offset, 0, gint64(bytes.size())));
    };
    const std::size_t begin = clamp(g_mime_parser_get_mbox_marker_offset(parser.get()));
    const std::size_t end = std::max(begin, clamp(g_mime_parser_tell(parser.get())));
    visit(count, FromMessage(msg.get(), limits), bytes.substr(begin, end - begin));
  }
  return count;
}

}  // namespace dmarc::mime
