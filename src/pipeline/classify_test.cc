#include "pipeline/classify.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace dmarc::pipeline
