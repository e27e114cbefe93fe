#include "mime/mime.h"

#include <gtest/gtest.h>

#include "archive/archive.h"
#include "testing/test_util.h"

namespace dmarc::mime {
namespace {

using dmarc::testing::ReadFile;
using dmarc::testing::TestData;

const std::string kSamples = "real/parsedmarc-samples/";

TEST(Mime, GoogleReportMailYieldsTheZipAttachment) {
  auto mail = ParseMail(
      ReadFile(TestData(kSamples + "aggregate/Report domain- borschow.com Submitter- google.com "
                                   "Report-ID- 949348866075514174.eml")),
      Limits{});
  ASSERT_TRUE(mail.ok()) << mail.error();
  EXPECT_NE(mail->subject.find("949348866075514174"), std::string::npos);
  bool found_zip = false;
  for (const auto& p : mail->parts) {
    if (archive::Sniff(p.data) == archive::Kind::kZip) {
      found_zip = true;
      EXPECT_NE(p.filename.find(".zip"), std::string::npos);
    }
  }
  EXPECT_TRUE(found_zip);
  ASSERT_TRUE(mail->date.has_value());
}

TEST(Mime, SinglePartBase64BodyIsDecoded) {
  auto mail =
      ParseMail(ReadFile(TestData(kSamples + "aggregate/mimecast-weird-gzip.eml")), Limits{});
  ASSERT_TRUE(mail.ok());
  ASSERT_EQ(mail->parts.size(), 1u);
  EXPECT_EQ(mail->parts[0].path, "1");
  EXPECT_EQ(archive::Sniff(mail->parts[0].data), archive::Kind::kGzip);
}

TEST(Mime, AttachedMessagesAreWalked) {
  // The Netease failure report holds a message/rfc822 part: it is listed, and its inner parts
  // follow it.
  auto mail = ParseMail(
      ReadFile(TestData(kSamples + "failure/[Netease DMARC Failure Report] Rent Reminder.eml")),
      Limits{});
  ASSERT_TRUE(mail.ok());
  bool feedback = false;
  for (const auto& p : mail->parts) {
    if (p.content_type == "message/feedback-report") feedback = true;
  }
  EXPECT_TRUE(feedback);
}

TEST(Mime, PartLimitIsEnforced) {
  std::string mail =
      "Subject: many\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
  for (int i = 0; i < 50; ++i) mail += "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n";
  mail += "--b--\r\n";
  Limits limits;
  limits.max_mime_parts = 10;
  auto parsed = ParseMail(mail, limits);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->parts.size(), 10u);
  ASSERT_FALSE(parsed->warnings.empty());
  EXPECT_NE(parsed->warnings[0].find("more than 10"), std::string::npos);
}

TEST(Mime, MboxMessagesAreVisitedInOrder) {
  std::string mbox;
  for (int i = 1; i <= 3; ++i) {
    mbox += "From sender@example.com Mon Jan  1 00:00:00 2024\n";
    mbox += "Subject: message " + std::to_string(i) + "\n\nbody\n\n";
  }
  std::vector<std::string> subjects;
  auto n = ForEachMboxMail(mbox, Limits{}, [&](std::size_t index, Result<Mail>&& m) {
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(index, subjects.size() + 1);
    subjects.push_back(m->subject);
  });
  ASSERT_TRUE(n.ok()) << n.error();
  EXPECT_EQ(*n, 3u);
  EXPECT_EQ(subjects, (std::vector<std::string>{"message 1", "message 2", "message 3"}));
}

}  // namespace
}  // namespace dmarc::mime
