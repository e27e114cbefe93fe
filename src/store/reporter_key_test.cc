#include "store/reporter_key.h"

#include <gtest/gtest.h>

namespace dmarc::store {
namespace {

TEST(ReporterKey, NamesOfOneReporterShareAKey) {
  for (const char* name : {"Google", "google.com", "GOOGLE", " Google  ", "Google Inc.",
                           "Google, Inc.", "Google LLC", "mail.google.com", "google.co.uk"}) {
    EXPECT_EQ(ReporterKey(name), "google") << name;
  }
  EXPECT_EQ(ReporterKey("Yahoo! Inc."), "yahoo");
  EXPECT_EQ(ReporterKey("yahoo.com"), "yahoo");
  EXPECT_EQ(ReporterKey("Mail.Ru"), "mail");
}

TEST(ReporterKey, OtherNamesKeepTheirWords) {
  EXPECT_EQ(ReporterKey("Enterprise   Outlook"), "enterprise outlook");
  EXPECT_EQ(ReporterKey("FastMail Pty Ltd"), "fastmail pty");
  EXPECT_NE(ReporterKey("google.com"), ReporterKey("googlemail.com"));
  EXPECT_NE(ReporterKey("Microsoft"), ReporterKey("Outlook.com"));
  // A company form alone is a name, not a suffix to drop; a bare suffix stays as written.
  EXPECT_EQ(ReporterKey("Inc."), "inc");
  EXPECT_EQ(ReporterKey("co.uk"), "co.uk");
  EXPECT_EQ(ReporterKey("localhost"), "localhost");
  EXPECT_EQ(ReporterKey(""), "");
}

}  // namespace
}  // namespace dmarc::store
