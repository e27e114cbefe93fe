#include "parse/failure.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace dmarc::parse {
namespace {

TEST(PlainTextFailure, EximTextIsRead) {
  const auto t = ReadPlainTextFailure(
      "A message claiming to be from you has failed.\n\n  Sender Domain: example.com\n"
      "  Sender IP Address: 203.0.113.68\n  Received date: Mon, 07 Apr 2025 23:16:09 +0200\n"
      "  SPF Alignment: no\n\n------ This is a copy of the headers that were received before "
      "the error was detected.\n\nFrom: <user@example.com>\nSubject: x\n");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->sample, "From: <user@example.com>\nSubject: x\n");
  auto has = [&](const std::string& name, const std::string& value) {
    return std::find(t->fields.begin(), t->fields.end(), Field{name, value}) != t->fields.end();
  };
  EXPECT_TRUE(has("Reported-Domain", "example.com"));
  EXPECT_TRUE(has("Source-IP", "203.0.113.68"));
  EXPECT_TRUE(has("Arrival-Date", "Mon, 07 Apr 2025 23:16:09 +0200"));
  EXPECT_TRUE(has("SPF Alignment", "no"));
  EXPECT_FALSE(ReadPlainTextFailure("Hello,\nSender Domain: example.com\n").has_value());
}

TEST(FailureReport, KeepSampleNamesAreParsed) {
  EXPECT_EQ(ParseKeepSample("headers"), KeepSample::kHeaders);
  EXPECT_EQ(ParseKeepSample("full"), KeepSample::kFull);
  EXPECT_EQ(ParseKeepSample("none"), KeepSample::kNone);
  EXPECT_FALSE(ParseKeepSample("all").has_value());
}

TEST(FailureReport, FraudReportIsNotADmarcReport) {
  FailureInput in;
  in.fields = {{"Feedback-Type", "fraud"}, {"Source-IP", "192.0.2.1"}};
  auto r = BuildFailureReport(std::move(in), FailureOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("not a DMARC failure report"), std::string::npos);
}

TEST(FailureReport, SourceIpToleratesHostNames) {
  for (const auto& [sent, want] : std::vector<std::pair<std::string, std::string>>{
           {"192.0.2.1", "192.0.2.1"},
           {"192.0.2.1 (mail.example.net)", "192.0.2.1"},
           {"[2001:db8::1] mail.example.net", "2001:db8::1"},
           {"mail.example.net [192.0.2.9]", "192.0.2.9"},
           {"mail.example.net", "mail.example.net"}}) {
    FailureInput in;
    in.mail_date = 1'600'000'000;
    in.fields = {
        {"Feedback-Type", "auth-failure"}, {"Source-IP", sent}, {"Reported-Domain", "example.com"}};
    auto r = BuildFailureReport(std::move(in), FailureOptions{});
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->source.ip_address, want) << sent;
  }
}

TEST(FailureReport, FieldsAreBounded) {
  FailureInput in;
  in.mail_date = 1'600'000'000;
  in.fields = {{"Feedback-Type", "auth-failure"},
               {"Source-IP", "192.0.2.1"},
               {"Reported-Domain", "example.com"}};
  for (int i = 0; i < 50; ++i) in.fields.emplace_back("X-F" + std::to_string(i), "v");
  FailureOptions options;
  options.limits.max_headers = 20;
  auto r = BuildFailureReport(std::move(in), options);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->other_fields.size(), 17u);
  EXPECT_EQ(r->arrival_ts, 1'600'000'000);
}

}  // namespace
}  // namespace dmarc::parse
