#include "base/result.h"

#include <gtest/gtest.h>

namespace dmarc {
namespace {

Result<int> Fails(ErrorKind kind) { return MakeError(kind, "what went wrong"); }

Result<bool> PassesOn(ErrorKind kind) {
  DMARC_TRY(Fails(kind));
  return true;
}

Result<int> AssignsOrPassesOn(bool fail) {
  int v = 0;
  DMARC_TRY_ASSIGN(v, fail ? Fails(ErrorKind::kBusy) : Result<int>(41));
  return v + 1;
}

TEST(Result, AnErrorWithoutAKindIsOther) {
  Result<int> r = MakeError("plain");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "plain");
  EXPECT_EQ(r.error_kind(), ErrorKind::kOther);
}

TEST(Result, TryPassesTheKindAndMessageOn) {
  for (ErrorKind kind : {ErrorKind::kNotFound, ErrorKind::kBusy, ErrorKind::kIo}) {
    auto r = PassesOn(kind);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error_kind(), kind);
    EXPECT_EQ(r.error(), "what went wrong");
  }
}

TEST(Result, TryAssignTakesTheValueOrTheError) {
  auto ok = AssignsOrPassesOn(false);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 42);
  auto failed = AssignsOrPassesOn(true);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error_kind(), ErrorKind::kBusy);
}

}  // namespace
}  // namespace dmarc
