// The known forwarders (store/forwarders.h) and the advisor's rules for forwarded mail
// (store::ForwardedBecause, docs/senders.md "Forwarded mail").
#include "store/forwarders.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "store/advisor.h"
#include "store/advisor_scenario.h"

namespace dmarc::store {
namespace {

namespace ad = advisor_scenario;

TEST(Forwarders, TheBundledListIsValidAndMatchesByNameBaseDomainAndEnvelope) {
  Forwarders f;
  ASSERT_TRUE(f.Add(BuiltInForwardersText(), "forwarders.tsv").ok());
  EXPECT_GT(f.size(), 40u);
  EXPECT_EQ(Forwarders::BuiltIn().size(), f.size());
  const KnownForwarder* groups = f.Find("bounce.GoogleGroups.com");
  ASSERT_NE(groups, nullptr);
  EXPECT_EQ(groups->name, "Google Groups");
  EXPECT_EQ(groups->kind, "mailing_list");
  ASSERT_NE(f.Find("lists.example.org"), nullptr);
  EXPECT_EQ(f.Find("lists.example.org")->key, "lists.*");
  EXPECT_EQ(f.Find("pobox.com")->kind, "forwarder");
  EXPECT_EQ(f.Find("example.com"), nullptr);
  EXPECT_EQ(f.Find("google.com"), nullptr);
  EXPECT_EQ(f.Find("outbound.protection.outlook.com"), nullptr);  // all of Microsoft 365
  EXPECT_EQ(f.Find("lists"), nullptr);
  model::Record r = ad::Rec(ad::kNow, "192.0.2.1", 1, 1);
  EXPECT_EQ(f.Match(r), nullptr);
  r.spf = {{"googlegroups.com", "mfrom", "pass", {}}};
  ASSERT_NE(f.Match(r), nullptr);
  // A spoofer can write any envelope domain; only one SPF passed for names the forwarder.
  for (const char* result : {"fail", "softfail", "neutral", "none", "temperror"}) {
    r.spf = {{"googlegroups.com", "mfrom", result, {}}};
    EXPECT_EQ(f.Match(r), nullptr) << result;
  }
  r.spf = {};
  r.source.reverse_dns = "mailman.uni.example";
  ASSERT_NE(f.Match(r), nullptr);
  EXPECT_EQ(f.Match(r)->name, "Mailman list server");
  r.source.reverse_dns.reset();
  r.source.base_domain = "pobox.com";
  ASSERT_NE(f.Match(r), nullptr);
}

TEST(Forwarders, AUsersFileAddsOverridesAndRemovesEntries) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("dmarc-forwarders-" +
                     std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + ".tsv");
  {
    std::ofstream out(path);
    out << "# ours\n\nfwd.uni.example\tUni alumni forwarding\tforwarder\r\n"
        << "pobox.com\tPobox (ours)\tmailing_list\ngooglegroups.com\tx\tnone\n";
  }
  auto f = Forwarders::WithFiles({path.string()});
  std::filesystem::remove(path);
  ASSERT_TRUE(f.ok()) << f.error();
  ASSERT_NE((*f)->Find("mx1.fwd.uni.example"), nullptr);
  EXPECT_EQ((*f)->Find("mx1.fwd.uni.example")->name, "Uni alumni forwarding");
  EXPECT_EQ((*f)->Find("pobox.com")->name, "Pobox (ours)");
  EXPECT_EQ((*f)->Find("googlegroups.com"), nullptr);
  EXPECT_EQ((*f)->size(), Forwarders::BuiltIn().size());               // one added, one removed
  EXPECT_NE(Forwarders::BuiltIn().Find("googlegroups.com"), nullptr);  // the bundled list is kept

  auto missing = Forwarders::WithFiles({"/nonexistent/forwarders.tsv"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("/nonexistent/forwarders.tsv"), std::string::npos)
      << missing.error();
  Forwarders bad;
  auto kind = bad.Add("ok.example\tOK\tforwarder\nx.example\tX\tspoofer\n", "user");
  ASSERT_FALSE(kind.ok());
  EXPECT_NE(kind.error().find("user:2: the kind \"spoofer\""), std::string::npos) << kind.error();
  EXPECT_FALSE(bad.Add("x.example\tX\n", "user").ok());
  EXPECT_FALSE(bad.Add("*.example\tX\tforwarder\n", "user").ok());
  EXPECT_FALSE(bad.Add("x.example\tX\tforwarder\textra\n", "user").ok());
}

// The rules of ForwardReason, in order; a spoofer stays failing.
TEST(ForwardedBecause, FollowsTheReceiverThenTheStatusThenTheListThenTheSignature) {
  const Forwarders& f = Forwarders::BuiltIn();
  model::Record r = ad::Host(ad::kNow, "198.51.100.9", 1, 1, "relay.example", false,
                             {ad::kDomain, "s1", "pass", {}}, {ad::kDomain, "mfrom", "fail", {}});
  auto why = ForwardedBecause(r, "unknown", ad::kDomain, f);
  ASSERT_TRUE(why);
  EXPECT_EQ(why->reason, "dkim_survived");
  EXPECT_FALSE(ForwardedBecause(r, "approved", ad::kDomain, f));    // the owner's to fix
  EXPECT_FALSE(ForwardedBecause(r, "unapproved", ad::kDomain, f));  // the owner said no
  EXPECT_EQ(ForwardedBecause(r, "forwarder", ad::kDomain, f)->reason, "sender_status");
  // The domain's own (or a subdomain's) address: not another organisation.
  r.source.base_domain = "example.com";
  EXPECT_FALSE(ForwardedBecause(r, "unknown", ad::kDomain, f));
  r.source.base_domain = "mail.example.com";
  EXPECT_FALSE(ForwardedBecause(r, "unknown", ad::kDomain, f));
  // No PTR name: who sent it is not known.
  r.source.base_domain.reset();
  EXPECT_FALSE(ForwardedBecause(r, "unknown", ad::kDomain, f));
  // A residential address: a signature of another domain, or a failing one, is no survivor.
  r.source.base_domain = "isp.example";
  r.dkim = {{"isp.example", "x", "pass", {}}, {ad::kDomain, "s1", "fail", {}}};
  EXPECT_FALSE(ForwardedBecause(r, "unknown", ad::kDomain, f));
  // The receiver's local_policy alone is its own decision; with arc=pass in the comment, the
  // ARC chain it verified says the message was forwarded.
  r.policy_evaluated.policy_override_reasons = {{"local_policy", "policy=none"}};
  EXPECT_FALSE(ForwardedBecause(r, "unknown", ad::kDomain, f));
  r.policy_evaluated.policy_override_reasons = {{"local_policy", "arc=pass as.1.google.com=pass"}};
  why = ForwardedBecause(r, "unapproved", ad::kDomain, f);  // the receiver's word comes first
  ASSERT_TRUE(why);
  EXPECT_EQ(why->reason, "arc");
  EXPECT_EQ(why->detail, "arc=pass as.1.google.com=pass");
  r.policy_evaluated.policy_override_reasons = {{"trusted_forwarder", std::nullopt}};
  EXPECT_EQ(ForwardedBecause(r, "approved", ad::kDomain, f)->Text(),
            "the receiver's override reason trusted_forwarder");
  // Passing DMARC is never forwarded.
  ad::Aligned(r, true, false);
  EXPECT_FALSE(ForwardedBecause(r, "unknown", ad::kDomain, f));
}

// A failure report as the parser gives it: the receiver's Authentication-Results field, the
// envelope sender, and the reported message's headers.
model::FailureReport Failure(const std::string& results, const std::string& mail_from,
                             std::vector<std::pair<std::string, std::string>> headers) {
  model::FailureReport f;
  f.authentication_results = results;
  f.original_mail_from = mail_from;
  f.reported_domain = "example.com";
  f.source.ip_address = "192.0.2.7";
  f.parsed_sample = model::FailureSample{};
  f.parsed_sample->headers = std::move(headers);
  return f;
}

TEST(FailureForwarding, TheReceiversArcPassOrAKnownSourceClassifiesTheMessageHeadersDoNot) {
  const Forwarders& f = Forwarders::BuiltIn();
  const std::vector<std::pair<std::string, std::string>> arc = {
      {"ARC-Seal", "i=1; a=rsa-sha256; cv=none; d=lists.example.org; s=arc; b=AAAA"},
      {"ARC-Authentication-Results", "i=1; lists.example.org; dkim=pass header.d=example.com"},
      {"arc-seal", "i=2; a=rsa-sha256; cv=pass; d=relay.example.net; s=arc; b=AAAA"},
      {"ARC-Authentication-Results", "i=2; relay.example.net; DMARC=Pass header.from=example.com"},
      {"List-Id", "Announcements <announce.lists.example.org>"}};

  auto forged = ClassifyFailure(
      Failure("spf=fail smtp.mailfrom=example.com; dmarc=fail", "<sender@example.com>", arc), f);
  EXPECT_EQ(forged.kind, "");
  EXPECT_EQ(forged.reason, "");
  ASSERT_EQ(forged.evidence.size(), 2u);
  EXPECT_EQ(forged.evidence[0], "ARC i=2 sealed by relay.example.net: cv=pass, dmarc=pass");
  EXPECT_EQ(forged.evidence[1], "List-Id: Announcements <announce.lists.example.org>");

  auto passed = ClassifyFailure(
      Failure("arc=pass (i=2); dmarc=fail header.from=example.com", "<sender@example.com>", arc),
      f);
  EXPECT_EQ(passed.kind, "forwarded");
  EXPECT_EQ(passed.reason, "arc_pass");
  EXPECT_EQ(passed.evidence.size(), 2u);
  // "header.arc=pass", "xarc=pass" and arc=fail are not the receiver's ARC result.
  for (const char* results : {"dkim=pass header.arc=pass", "xarc=pass", "arc=fail; dmarc=fail"}) {
    EXPECT_EQ(ClassifyFailure(Failure(results, "", {}), f).kind, "") << results;
  }

  // The envelope domain counts only where the receiver's SPF passed for it.
  auto groups = ClassifyFailure(Failure("spf=pass smtp.mailfrom=googlegroups.com; dmarc=fail",
                                        "<list+bnc@googlegroups.com>", {}),
                                f);
  EXPECT_EQ(groups.kind, "mailing_list");
  EXPECT_EQ(groups.reason, "known_forwarder");
  EXPECT_EQ(groups.detail, "Google Groups (googlegroups.com)");
  EXPECT_EQ(
      ClassifyFailure(Failure("spf=softfail; dmarc=fail", "<x@googlegroups.com>", {}), f).kind, "");
  // The source's PTR name.
  model::FailureReport ptr = Failure("dmarc=fail", "", {});
  ptr.source.reverse_dns = "mx1.pobox.com";
  EXPECT_EQ(ClassifyFailure(ptr, f).kind, "forwarded");
  EXPECT_EQ(ClassifyFailure(ptr, f).reason, "known_forwarder");

  // No sample: nothing to show, and hostile header values are bounded and printable.
  model::FailureReport bare = Failure("dmarc=fail", "", {});
  bare.parsed_sample.reset();
  EXPECT_TRUE(ClassifyFailure(bare, f).evidence.empty());
  std::vector<std::pair<std::string, std::string>> hostile(
      2000, {"List-Id", std::string(10000, 'x') + "\x01"});
  hostile.push_back({"ARC-Seal", "i=999; cv=pass; d=x"});  // i beyond 50: not an ARC set
  auto bounded = ClassifyFailure(Failure("", "", hostile), f);
  ASSERT_EQ(bounded.evidence.size(), 5u);
  EXPECT_LE(bounded.evidence[0].size(), 210u);
}

TEST(FailureForwarding, AStoredReportIsClassifiedFromItsJson) {
  EXPECT_EQ(ClassifyFailureData("not json", Forwarders::BuiltIn()).kind, "");
  EXPECT_EQ(ClassifyFailureData("[1]", Forwarders::BuiltIn()).kind, "");
}

}  // namespace
}  // namespace dmarc::store
