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

}  // namespace
}  // namespace dmarc::store
