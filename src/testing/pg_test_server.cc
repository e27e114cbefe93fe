// The PostgreSQL server a test suite shares: ctest runs PostgresFixture.Start before the first
// test that needs the `postgres` fixture and PostgresFixture.Stop after the last
// (src/testing/CMakeLists.txt). Tests get databases on it with SharedPostgresDatabase().
#include <gtest/gtest.h>

#include <fstream>

#include "testing/postgres.h"

namespace dmarc::testing {
namespace {

TEST(PostgresFixture, Start) {
  const auto dir = SharedPostgresDir();
  PostgresServer::StopAt(dir);  // one left behind by an interrupted run
  PostgresServer server(dir);
  server.Start();
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(server.Psql("SELECT 1"), "1");
  std::ofstream(dir / "port") << server.port();
  server.Detach();
}

TEST(PostgresFixture, Stop) {
  PostgresServer::StopAt(SharedPostgresDir());
  EXPECT_FALSE(std::filesystem::exists(SharedPostgresDir()));
}

}  // namespace
}  // namespace dmarc::testing
