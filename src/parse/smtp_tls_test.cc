#include "parse/smtp_tls.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace dmarc::parse {
namespace {

bool HasError(const model::SmtpTlsReport& r, std::string_view part) {
  return std::any_of(r.errors.begin(), r.errors.end(),
                     [&](const std::string& e) { return e.find(part) != std::string::npos; });
}

TEST(SmtpTls, SloppySendersAreReadWithWarnings) {
  const std::string json = R"({
    "organization-name": "Sloppy Inc.",
    "date-range": {"start-datetime": "2024-01-09T00:00:00", "end-datetime": "2024-01-09T23:59:59+02:00"},
    "contact-info": null,
    "report-id": "r1",
    "policies": [{
      "policy": {"policy-type": "STS", "policy-domain": "Example.com", "mx-host": "mx.example.com"},
      "summary": {"total-successful-session-count": "12", "total-failure-session-count": 3},
      "failure-details": [{"result-type": "brand-new-type", "failed-session-count": "3"}]
    }, {
      "policy": {"policy-type": "no-policy-found"},
      "summary": {"total-successful-session-count": 1, "total-failure-session-count": 0}
    }]
  })";
  auto r = ParseSmtpTlsJson(json, Limits{});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->begin, 1704758400);               // no zone: UTC
  EXPECT_EQ(r->end, 1704758400 + 86399 - 7200);  // +02:00
  EXPECT_FALSE(r->contact_info.has_value());
  ASSERT_EQ(r->policies.size(), 2u);
  const auto& p = r->policies[0];
  EXPECT_EQ(p.policy_type, "sts");
  EXPECT_EQ(p.policy_domain, "example.com");
  EXPECT_EQ(p.mx_host_patterns, std::vector<std::string>{"mx.example.com"});
  EXPECT_EQ(p.successful_session_count, 12u);
  ASSERT_EQ(p.failure_details.size(), 1u);
  EXPECT_EQ(p.failure_details[0].result_type, "brand-new-type");
  EXPECT_EQ(p.failure_details[0].failed_session_count, 3u);
  EXPECT_FALSE(p.failure_details[0].sending_mta_ip.has_value());
  EXPECT_EQ(r->policies[1].policy_domain, "");
  EXPECT_TRUE(HasError(*r, "no time zone"));
  EXPECT_TRUE(HasError(*r, "contact-info is missing"));
  EXPECT_TRUE(HasError(*r, "policy-type \"STS\" read as \"sts\""));
  EXPECT_TRUE(HasError(*r, "a count given as a string"));
  EXPECT_TRUE(HasError(*r, "not one of RFC 8460's"));
  EXPECT_TRUE(HasError(*r, "policy-domain is missing (no-policy-found)"));
  EXPECT_TRUE(HasError(*r, "mx-host: a string where an array belongs"));
}

TEST(SmtpTls, ContactInfoMissingAndMxHostArray) {
  auto r = ParseSmtpTlsJson(R"({"organization-name":"O","report-id":"x",
    "date-range":{"start-datetime":"2024-01-09T00:00:00Z","end-datetime":"2024-01-10T00:00:00Z"},
    "policies":[{"policy":{"policy-type":"tlsa","policy-domain":"a.example",
      "mx-host":["mx1.a.example","mx2.a.example"]},
      "summary":{"total-successful-session-count":0,"total-failure-session-count":0}}]})",
                            Limits{});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_FALSE(r->contact_info.has_value());
  EXPECT_EQ(r->policies[0].mx_host_patterns.size(), 2u);
}

TEST(SmtpTls, BrokenReportsAreRejectedWithTheirReason) {
  const std::string range =
      R"("date-range":{"start-datetime":"2024-01-09T00:00:00Z","end-datetime":"2024-01-10T00:00:00Z"})";
  struct Case {
    std::string json, reason;
  };
  const Case cases[] = {
      {"[1,2]", "not a JSON object"},
      {"{\"organization-name\": ", "not valid JSON"},
      {R"({"report-id":"x",)" + range + R"(,"policies":[]})", "organization-name is missing"},
      {R"({"organization-name":"O","report-id":"x","policies":[]})", "date-range is missing"},
      {R"({"organization-name":"O","report-id":"x","date-range":{"start-datetime":"yesterday",
         "end-datetime":"2024-01-10T00:00:00Z"},"policies":[]})",
       "is not a date-time"},
      {R"({"organization-name":"O","report-id":"x",)" + range +
           R"(,"policies":[{"policy":{"policy-type":"sts","policy-domain":"a"},
         "summary":{"total-successful-session-count":-1,"total-failure-session-count":0}}]})",
       "is negative"},
      {R"({"organization-name":"O","report-id":"x",)" + range +
           R"(,"policies":[{"policy":{"policy-type":"sts"},
         "summary":{"total-successful-session-count":1,"total-failure-session-count":0}}]})",
       "policy-domain is missing"},
      {std::string(100, '[') + std::string(100, ']'), "nested more than"},
  };
  for (const auto& c : cases) {
    auto r = ParseSmtpTlsJson(c.json, Limits{});
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_NE(r.error().find(c.reason), std::string::npos) << r.error();
  }
}

// One missing summary count is repaired and recorded, like an aggregate report's repairs; both
// missing is still an error.
TEST(SmtpTls, OneMissingSummaryCountIsRepairedAndRecorded) {
  const std::string head =
      R"({"organization-name":"O","report-id":"x","contact-info":"c@o.example",)"
      R"("date-range":{"start-datetime":"2024-01-09T00:00:00Z","end-datetime":"2024-01-10T00:00:00Z"},)"
      R"("policies":[{"policy":{"policy-type":"sts","policy-domain":"a.example"},)";
  const std::string details =
      R"("failure-details":[{"result-type":"certificate-expired","failed-session-count":2},)"
      R"({"result-type":"validation-failure","failed-session-count":5}])";
  auto no_failed = ParseSmtpTlsJson(
      head + R"("summary":{"total-successful-session-count":40},)" + details + "}]}", Limits{});
  ASSERT_TRUE(no_failed) << no_failed.error();
  EXPECT_EQ(no_failed->policies[0].successful_session_count, 40u);
  EXPECT_EQ(no_failed->policies[0].failed_session_count, 7u);
  EXPECT_TRUE(HasError(*no_failed, "total-failure-session-count is missing: read as 7"));

  auto no_ok = ParseSmtpTlsJson(
      head + R"("summary":{"total-failure-session-count":7},)" + details + "}]}", Limits{});
  ASSERT_TRUE(no_ok) << no_ok.error();
  EXPECT_EQ(no_ok->policies[0].successful_session_count, 0u);
  EXPECT_EQ(no_ok->policies[0].failed_session_count, 7u);
  EXPECT_TRUE(HasError(*no_ok, "total-successful-session-count is missing: read as 0"));

  auto neither = ParseSmtpTlsJson(head + R"("summary":{}}]})", Limits{});
  ASSERT_FALSE(neither);
  EXPECT_NE(neither.error().find("are missing"), std::string::npos) << neither.error();
}

TEST(SmtpTls, InvalidUtf8IsReplacedNotFatal) {
  auto r = ParseSmtpTlsJson(
      "{\"organization-name\":\"Caf\xe9\",\"report-id\":\"x\",\"contact-info\":\"a\","
      "\"date-range\":{\"start-datetime\":\"2024-01-09T00:00:00Z\","
      "\"end-datetime\":\"2024-01-10T00:00:00Z\"},\"policies\":[]}",
      Limits{});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->organization_name, "Caf\xef\xbf\xbd");
  EXPECT_TRUE(HasError(*r, "invalid UTF-8"));
}

TEST(SmtpTls, EntriesAreBounded) {
  std::string json = R"({"organization-name":"O","report-id":"x",
    "date-range":{"start-datetime":"2024-01-09T00:00:00Z","end-datetime":"2024-01-10T00:00:00Z"},
    "policies":[)";
  for (int i = 0; i < 50; ++i) {
    if (i) json += ',';
    json += R"({"policy":{"policy-type":"sts","policy-domain":"a.example"},
      "summary":{"total-successful-session-count":1,"total-failure-session-count":0}})";
  }
  json += "]}";
  Limits limits;
  limits.max_tls_entries = 10;
  auto r = ParseSmtpTlsJson(json, limits);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->policies.size(), 10u);
  EXPECT_TRUE(HasError(*r, "the rest were skipped"));
}

}  // namespace
}  // namespace dmarc::parse
