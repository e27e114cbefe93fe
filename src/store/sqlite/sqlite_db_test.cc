#include "store/sqlite/sqlite_db.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace dmarc::store::sqlite {
namespace {

// An in-memory table with a key, a running sum and a name; a RowInserter of 4 rows a statement
// that adds to the sum of a key already there.
class RowInserterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.Open(":memory:", 1000));
    ASSERT_TRUE(
        db_.Exec("CREATE TABLE t (k INTEGER PRIMARY KEY, n INTEGER NOT NULL, name TEXT"
                 " NOT NULL)"));
    auto r = RowInserter::Prepare(db_, "t (k, n, name)", 3,
                                  " ON CONFLICT DO UPDATE SET n = n + excluded.n", 4);
    ASSERT_TRUE(r) << r.error();
    rows_ = std::move(r).value();
  }
  std::int64_t Query(const std::string& sql) {
    auto v = db_.QueryInt(sql);
    EXPECT_TRUE(v) << v.error();
    return v ? *v : -1;
  }
  Database db_;
  RowInserter rows_;
};

TEST_F(RowInserterTest, FullStatementsRunAsRowsComeAndTheRestAtFlush) {
  const std::string names[] = {"a", "b", "c", "d", "e", "f"};
  for (std::int64_t k = 1; k <= 6; ++k) {
    EXPECT_EQ(rows_.Queued(), static_cast<std::size_t>((k - 1) % 4)) << k;
    ASSERT_TRUE(rows_.Add({k, k * 10, std::string_view(names[k - 1])}));
    // Four rows make a statement: inserted at the fourth, the others wait.
    EXPECT_EQ(Query("SELECT count(*) FROM t"), k < 4 ? 0 : 4) << k;
  }
  EXPECT_EQ(rows_.Queued(), 2u);
  ASSERT_TRUE(rows_.Flush());
  EXPECT_EQ(rows_.Queued(), 0u);
  EXPECT_EQ(Query("SELECT count(*) FROM t"), 6);
  EXPECT_EQ(Query("SELECT sum(n) FROM t"), 210);
  EXPECT_EQ(Query("SELECT k FROM t WHERE name = 'f'"), 6);
  ASSERT_TRUE(rows_.Flush());  // nothing queued: nothing changes
  EXPECT_EQ(Query("SELECT count(*) FROM t"), 6);
}

TEST_F(RowInserterTest, RowsOfAKeyAlreadyThereOrEarlierInTheSameStatementAreAddedUp) {
  ASSERT_TRUE(rows_.Add({std::int64_t{1}, std::int64_t{5}, std::string_view("x")}));
  ASSERT_TRUE(rows_.Flush());
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(rows_.Add({std::int64_t{1}, std::int64_t{1}, std::string_view("x")}));
  }
  EXPECT_EQ(Query("SELECT n FROM t WHERE k = 1"), 9);
  EXPECT_EQ(Query("SELECT count(*) FROM t"), 1);
}

TEST_F(RowInserterTest, ARowBreakingAConstraintFailsItsStatementWithSQLitesMessage) {
  ASSERT_TRUE(rows_.Add({std::int64_t{1}, std::int64_t{1}, std::string_view("x")}));
  ASSERT_TRUE(rows_.Add({std::int64_t{2}, std::int64_t{1}, std::string_view("y")}));
  // A constraint of the table's own refuses key 3.
  ASSERT_TRUE(
      db_.Exec("CREATE TRIGGER no_three BEFORE INSERT ON t WHEN new.k = 3"
               " BEGIN SELECT RAISE(FAIL, 'three is refused'); END"));
  ASSERT_TRUE(rows_.Add({std::int64_t{3}, std::int64_t{1}, std::string_view("z")}));
  auto r = rows_.Add({std::int64_t{4}, std::int64_t{1}, std::string_view("w")});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("three is refused"), std::string::npos) << r.error();
  // What was queued is gone: the next rows start a statement of their own.
  ASSERT_TRUE(rows_.Add({std::int64_t{5}, std::int64_t{1}, std::string_view("v")}));
  ASSERT_TRUE(rows_.Flush());
  EXPECT_EQ(Query("SELECT count(*) FROM t WHERE k = 5"), 1);
}

TEST_F(RowInserterTest, AnAbsentValueIsNullEvenWhereTheRowBeforeHadOne) {
  ASSERT_TRUE(db_.Exec("CREATE TABLE o (k INTEGER PRIMARY KEY, v TEXT, n INTEGER)"));
  auto r = RowInserter::Prepare(db_, "o (k, v, n)", 3, "", 2);
  ASSERT_TRUE(r) << r.error();
  const std::optional<std::string> text = "t", none_text;
  const std::optional<std::int64_t> number = 7, none_number;
  // Rows 1-2 fill a statement of two, row 3 goes alone at Flush: each statement is reused.
  for (std::int64_t k = 1; k <= 3; ++k) {
    const bool odd = k % 2 == 1;
    ASSERT_TRUE(r->Add({k, RowInserter::Maybe(odd ? text : none_text),
                        RowInserter::Maybe(odd ? none_number : number)}));
  }
  ASSERT_TRUE(r->Flush());
  EXPECT_EQ(Query("SELECT count(*) FROM o WHERE v = 't' AND n IS NULL"), 2);
  EXPECT_EQ(Query("SELECT count(*) FROM o WHERE v IS NULL AND n = 7"), 1);
}

TEST_F(RowInserterTest, ClearForgetsWhatIsQueued) {
  ASSERT_TRUE(rows_.Add({std::int64_t{1}, std::int64_t{1}, std::string_view("x")}));
  rows_.Clear();
  ASSERT_TRUE(rows_.Flush());
  EXPECT_EQ(Query("SELECT count(*) FROM t"), 0);
}

}  // namespace
}  // namespace dmarc::store::sqlite
