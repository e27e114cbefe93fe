#include "pipeline/record_spool.h"

#include <gtest/gtest.h>

#include "sinks/parsedmarc_format.h"

namespace dmarc::pipeline {
namespace {

// A record with every field set, varied by n (optional fields present or not by n's parity).
model::Record Full(int n) {
  model::Record r;
  r.interval_begin = 1700000000 + n;
  r.interval_end = -5 - n;
  r.normalized_timespan = n % 2 == 0;
  r.source.ip_address = "192.0.2." + std::to_string(n);
  if (n % 2) {
    r.source.country = "NL";
    r.source.reverse_dns = "mail" + std::to_string(n) + ".example.net";
    r.source.base_domain = "example.net";
    r.source.name = "Example";
    r.source.type = "ESP";
    r.source.asn = 64496 + n;
    r.source.as_name = "Example AS";
    r.source.as_domain = std::string("with\0nul", 8);
  }
  r.count = 18446744073709551615ull - static_cast<unsigned>(n);
  r.alignment = {n % 2 == 0, n % 3 == 0, n % 5 == 0};
  r.policy_evaluated = {"quarantine", "fail", "pass", {}};
  for (int i = 0; i < n % 3; ++i) {
    r.policy_evaluated.policy_override_reasons.push_back(
        {i ? std::optional<std::string>("forwarded") : std::nullopt, "comment é"});
  }
  r.identifiers.header_from = "example.com";
  if (n % 2) r.identifiers.envelope_from = "";
  r.identifiers.envelope_to = "example.org";
  for (int i = 0; i < n % 4; ++i) {
    r.dkim.push_back({"d" + std::to_string(i), "s", "pass", n % 2 ? "ok" : model::OptString()});
  }
  for (int i = 0; i < n % 3; ++i) r.spf.push_back({"example.com", "mfrom", "softfail", "x"});
  return r;
}

std::string Json(const model::Record& r) {
  std::string s;
  sinks::AppendAggregateJsonRecord(r, s, true);
  // Fields the JSON leaves out: compared as well.
  s += std::to_string(r.interval_begin) + "/" + std::to_string(r.interval_end) + "/" +
       std::to_string(r.normalized_timespan) + "/" + r.source.as_domain.value_or("-");
  return s;
}

TEST(RecordSpool, GivesBackEveryRecordInOrderAsOftenAsAsked) {
  RecordSpool spool(1024);  // past 1 KiB the records go to a temporary file
  std::vector<model::Record> in;
  for (int n = 0; n < 200; ++n) in.push_back(Full(n));
  ASSERT_TRUE(spool.Add({in.begin(), in.begin() + 7}));
  ASSERT_TRUE(spool.Add({in.begin() + 7, in.end()}));
  EXPECT_EQ(spool.Count(), 200u);
  EXPECT_LE(spool.MemoryBytes(), 1024u);
  for (int pass = 0; pass < 2; ++pass) {
    ASSERT_TRUE(spool.Rewind());
    std::vector<model::Record> out, got;
    for (;;) {
      ASSERT_TRUE(spool.Next(got, 13));
      if (got.empty()) break;
      EXPECT_LE(got.size(), 13u);
      out.insert(out.end(), got.begin(), got.end());
    }
    ASSERT_EQ(out.size(), in.size());
    for (std::size_t i = 0; i < in.size(); ++i) EXPECT_EQ(Json(out[i]), Json(in[i])) << i;
  }
}

TEST(RecordSpool, ARecordReadOverAnotherKeepsNothingOfIt) {
  // Next reads into the records it was given back (their strings keep their buffers): every
  // field, optional or listed, must come from the encoding alone.
  for (int before : {1, 3, 7, 11}) {
    for (int after : {0, 2, 4, 6, 12}) {
      std::string bytes;
      EncodeRecord(Full(after), bytes);
      model::Record r = Full(before);
      std::string_view in = bytes;
      ASSERT_TRUE(DecodeRecord(in, r));
      EXPECT_EQ(Json(r), Json(Full(after))) << before << " then " << after;
    }
  }
}

TEST(RecordSpool, ATruncatedEncodingIsRefused) {
  std::string bytes;
  EncodeRecord(Full(3), bytes);
  for (std::size_t cut : {std::size_t{0}, std::size_t{5}, bytes.size() / 2, bytes.size() - 1}) {
    std::string_view in(bytes.data(), cut);
    model::Record r;
    EXPECT_FALSE(DecodeRecord(in, r)) << cut;
  }
  std::string_view whole = bytes;
  model::Record r;
  EXPECT_TRUE(DecodeRecord(whole, r));
  EXPECT_TRUE(whole.empty());
}

}  // namespace
}  // namespace dmarc::pipeline
