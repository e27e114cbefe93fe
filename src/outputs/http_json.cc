#include "outputs/http_json.h"

#include <charconv>

namespace dmarc::outputs {

void JsonWriter::Key(std::string_view key) {
  Separate();
  AppendJsonString(out_, key);
  out_ += ':';
  after_key_ = true;
}

void JsonWriter::Int(std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  Raw(std::string_view(buf, r.ptr - buf));
}

void JsonWriter::UInt(std::uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  Raw(std::string_view(buf, r.ptr - buf));
}

}  // namespace dmarc::outputs
