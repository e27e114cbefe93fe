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
  std::vector<std::string_view> raws;
  auto n = ForEachMboxMail(mbox, Limits{},
                           [&](std::size_t index, Result<Mail>&& m, std::string_view raw) {
                             ASSERT_TRUE(m.ok());
                             EXPECT_EQ(index, subjects.size() + 1);
                             subjects.push_back(m->subject);
                             raws.push_back(raw);
                           });
  ASSERT_TRUE(n.ok()) << n.error();
  EXPECT_EQ(*n, 3u);
  EXPECT_EQ(subjects, (std::vector<std::string>{"message 1", "message 2", "message 3"}));
  // Each message's own bytes, viewed in place (not copied) and from its "From " line on.
  ASSERT_EQ(raws.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(raws[i].rfind("From sender@example.com", 0), 0u) << raws[i];
    EXPECT_NE(raws[i].find("Subject: message " + std::to_string(i + 1)), std::string::npos);
    EXPECT_EQ(raws[i].find("Subject: message " + std::to_string((i + 1) % 3 + 1)),
              std::string::npos);
    EXPECT_GE(raws[i].data(), mbox.data());
    EXPECT_LE(raws[i].data() + raws[i].size(), mbox.data() + mbox.size());
  }
}

TEST(Mime, PartsOverTheLimitAreToldNotDropped) {
  std::string mail = "Subject: many\nContent-Type: multipart/mixed; boundary=b\n\n";
  for (int i = 0; i < 12; ++i) mail += "--b\nContent-Type: text/plain\n\npart\n";
  mail += "--b--\n";
  Limits limits;
  limits.max_mime_parts = 5;
  auto m = ParseMail(mail, limits);
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ(m->parts.size(), 5u);
  EXPECT_TRUE(m->too_many_parts);
  limits.max_mime_parts = 12;
  m = ParseMail(mail, limits);
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ(m->parts.size(), 12u);
  EXPECT_FALSE(m->too_many_parts);
}

TEST(Sample, HeadersAddressesAndBody) {
  const std::string msg =
      "From: =?UTF-8?B?w5xiZXI=?= <a@Example.com>\r\nTo: b@example.org, Group: c@example.net;\r\n"
      "Cc: d@example.org\r\nSubject: =?UTF-8?Q?caf=C3=A9?=\r\nMessage-ID: <id1@example.com>\r\n"
      "Received: one\r\nReceived: two\r\n  folded\r\nDate: Tue, 30 Apr 2019 04:09:00 +0200\r\n"
      "Content-Type: text/plain; charset=iso-8859-1\r\n\r\nGr\xfc\xdf"
      "e\r\n";
  auto s = ParseSample(msg, Limits{}, /*with_body=*/true);
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->subject, "caf\xc3\xa9");
  EXPECT_EQ(s->message_id, "id1@example.com");
  EXPECT_EQ(s->date, 1556590140);
  ASSERT_EQ(s->from.size(), 1u);
  EXPECT_EQ(s->from[0].name,
            "\xc3\x9c"
            "ber");
  EXPECT_EQ(s->from[0].address, "a@Example.com");
  ASSERT_EQ(s->to.size(), 2u);  // group members are listed
  EXPECT_EQ(s->to[1].address, "c@example.net");
  EXPECT_EQ(s->cc.size(), 1u);
  ASSERT_TRUE(s->body.has_value());
  EXPECT_NE(s->body->find("Gr\xc3\xbc\xc3\x9f"
                          "e"),
            std::string::npos);  // converted to UTF-8
  std::size_t received = 0;
  for (const auto& h : s->headers) received += h.name == "Received";
  EXPECT_EQ(received, 2u);
  auto headers_only = ParseSample(msg, Limits{}, /*with_body=*/false);
  ASSERT_TRUE(headers_only.ok());
  EXPECT_FALSE(headers_only->body.has_value());
}

TEST(Sample, BareHeaderBlockAndHeaderLimit) {
  std::string block = "From: a@example.com\n";
  for (int i = 0; i < 50; ++i) block += "X-H" + std::to_string(i) + ": v\n";
  Limits limits;
  limits.max_headers = 10;
  auto s = ParseSample(block, limits, false);
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->headers.size(), 10u);
  ASSERT_EQ(s->warnings.size(), 1u);
  EXPECT_NE(s->warnings[0].find("more than 10 headers"), std::string::npos);
  EXPECT_EQ(s->from.at(0).address, "a@example.com");
}

TEST(HeaderBlock, FeedbackFieldsAreUnfoldedInOrder) {
  const auto fields = ParseHeaderBlock(
      "\r\nFeedback-Type: auth-failure\r\nAuthentication-Results: a;\r\n b\r\n"
      "Original-Mail-From:\r\nSource-IP: 192.0.2.1\r\n",
      Limits{});
  ASSERT_EQ(fields.size(), 4u);
  EXPECT_EQ(fields[0].name, "Feedback-Type");
  EXPECT_EQ(fields[0].value, "auth-failure");
  EXPECT_EQ(fields[1].value, "a; b");
  EXPECT_EQ(fields[2].value, "");
  EXPECT_EQ(fields[3].value, "192.0.2.1");
}

TEST(MailDate, Rfc5322DatesAndGarbage) {
  EXPECT_EQ(ParseMailDate("Mon, 01 Oct 2018 11:20:27 +0200"), 1538385627);
  EXPECT_EQ(ParseMailDate("01 Oct 2018 11:20:27 +0200"), 1538385627);
  EXPECT_FALSE(ParseMailDate("yesterday").has_value());
}

}  // namespace
}  // namespace dmarc::mime
