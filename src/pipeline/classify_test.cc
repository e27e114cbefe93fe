#include "pipeline/classify.h"

#include <gtest/gtest.h>

#include "pipeline/ingest.h"

namespace dmarc::pipeline {
namespace {

using collect::MailClass;

TEST(Classify, ReportsDecideTheFolderAndNoReportMeansInvalid) {
  Extracted e;
  EXPECT_EQ(Classify(e), MailClass::kInvalid);
  e.rejections.push_back({"m", "mail contains no DMARC report"});
  EXPECT_EQ(Classify(e), MailClass::kInvalid);
  e.smtp_tls.emplace_back();
  EXPECT_EQ(Classify(e), MailClass::kSmtpTls);
  e.failures.emplace_back();
  EXPECT_EQ(Classify(e), MailClass::kForensic);
  e.reports.emplace_back();
  EXPECT_EQ(Classify(e), MailClass::kAggregate);
}

// A rejected failure report mail carries someone's message: --failure-sample headers keeps only
// the report mail's own headers of it in the store, none nothing, full its first bytes.
TEST(RejectedBytes, FollowTheFailureSamplePolicy) {
  const std::string head =
      "From: reporter@example.net\r\nTo: ruf@example.com\r\nSubject: Failure report\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\r\n\r\n";
  const std::string mail = head +
                           "--b\r\nContent-Type: text/plain\r\n\r\nreport\r\n"
                           "--b\r\nContent-Type: message/feedback-report\r\n\r\n"
                           "--b\r\nContent-Type: message/rfc822\r\n\r\n"
                           "From: alice@example.com\r\nSubject: private\r\n\r\n"
                           "the private body of alice\r\n--b--\r\n";
  ExtractOptions options;
  options.keep_rejected = true;
  const auto kept = [&](parse::KeepSample keep) {
    options.keep_sample = keep;
    InputResult r = ExtractBuffer(mail, "ruf.eml", options);
    EXPECT_EQ(r.extracted.rejections.size(), 1u);
    if (r.extracted.rejections.empty()) return std::string("(no rejection)");
    EXPECT_EQ(r.extracted.rejections[0].size, mail.size());
    return r.extracted.rejections[0].raw;
  };
  EXPECT_EQ(kept(parse::KeepSample::kFull), mail);
  EXPECT_EQ(kept(parse::KeepSample::kHeaders), head.substr(0, head.size() - 2));  // no blank line
  EXPECT_EQ(kept(parse::KeepSample::kNone), "");
  // Other rejected inputs keep their first bytes whatever the policy.
  EXPECT_EQ(RejectedBytesToKeep("<feedback>broken", 100, parse::KeepSample::kNone),
            "<feedback>broken");
  EXPECT_EQ(
      RejectedBytesToKeep("From: a@b\r\nSubject: hi\r\n\r\nspam", 100, parse::KeepSample::kNone),
      "From: a@b\r\nSubject: hi\r\n\r\nspam");
}

}  // namespace
}  // namespace dmarc::pipeline
