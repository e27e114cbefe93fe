#include "parse/xml_prepare.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

namespace dmarc::parse {
namespace {

// CheckStructure's rules, byte by byte: the depth reached and the elements counted, or the
// limit passed first ("depth" / "elements"), or "" when within both.
std::string Reference(std::string_view xml, const Limits& limits) {
  int depth = 0;
  std::size_t tags = 0;
  for (std::size_t i = 0; i < xml.size(); ++i) {
    if (xml[i] != '<') continue;
    if (i + 1 >= xml.size()) break;
    const char c = xml[i + 1];
    if (c == '/') {
      --depth;
      continue;
    }
    if (c == '?' || c == '!') continue;
    const std::size_t end = xml.find('>', i + 1);
    if (end == std::string_view::npos) break;
    if (xml[end - 1] != '/' && ++depth > limits.max_xml_depth) return "depth";
    if (++tags > limits.max_xml_elements) return "elements";
    i = end;
  }
  return "";
}

std::string Verdict(std::string_view xml, const Limits& limits) {
  auto r = CheckStructure(xml, limits);
  if (r) return "";
  if (r.error().find("nested deeper") != std::string::npos) return "depth";
  if (r.error().find("elements") != std::string::npos) return "elements";
  return r.error();
}

TEST(CheckStructure, CountsDepthAndElementsAsTagsOpenCloseAndEnd) {
  Limits limits;
  limits.max_xml_depth = 3;
  limits.max_xml_elements = 5;
  EXPECT_EQ(Verdict("<a><b><c>x</c></b></a>", limits), "");
  EXPECT_EQ(Verdict("<a><b><c><d>x</d></c></b></a>", limits), "depth");
  EXPECT_EQ(Verdict("<a><b/><b/><b/><b/></a>", limits), "");
  EXPECT_EQ(Verdict("<a><b/><b/><b/><b/><b/></a>", limits), "elements");
  // Declarations, comments and closing tags are no elements; a document ending inside a tag
  // counts no further.
  EXPECT_EQ(Verdict("<?xml version=\"1.0\"?><!-- c --><a><b></b><b></b><b></b></a>", limits), "");
  EXPECT_EQ(Verdict("<a><b><c><d", limits), "");
  EXPECT_EQ(Verdict("<a><b><c><", limits), "");
}

// Documents of the characters that matter, of every length around the 16-byte blocks, against
// the byte-by-byte rules: the same verdict each time.
TEST(CheckStructure, AgreesWithTheRulesByteByByteAtEveryBlockBoundary) {
  std::mt19937 rng(7);
  const char kAlphabet[] = "<<>>/?!ab \n";
  for (int depth_limit : {2, 4, 8}) {
    Limits limits;
    limits.max_xml_depth = depth_limit;
    limits.max_xml_elements = 12;
    for (int round = 0; round < 4000; ++round) {
      std::string xml(static_cast<std::size_t>(rng() % 70), ' ');
      for (char& c : xml) c = kAlphabet[rng() % (sizeof kAlphabet - 1)];
      ASSERT_EQ(Verdict(xml, limits), Reference(xml, limits)) << '"' << xml << '"';
    }
  }
}

// The scan's masks, from SSE2 where built with it, agree with the portable ones for blocks of
// every mix of '<', '>' and other bytes (high bytes and NUL included).
TEST(CheckStructure, TheTwoWaysOfFindingTagMarksAgree) {
  std::mt19937 rng(11);
  const char kBytes[] = {'<', '>', 'a', '\0', '\x80', '\xff', '/', ' '};
  for (int round = 0; round < 20000; ++round) {
    char block[16];
    for (char& c : block) c = kBytes[rng() % sizeof kBytes];
    const auto fast = internal::TagMarks16(block);
    const auto portable = internal::TagMarks16Portable(block);
    std::uint32_t lt = 0, gt = 0;
    for (int k = 0; k < 16; ++k) {
      lt |= static_cast<std::uint32_t>(block[k] == '<') << k;
      gt |= static_cast<std::uint32_t>(block[k] == '>') << k;
    }
    ASSERT_EQ(fast.lt, lt);
    ASSERT_EQ(fast.gt, gt);
    ASSERT_EQ(portable.lt, lt);
    ASSERT_EQ(portable.gt, gt);
  }
}

}  // namespace
}  // namespace dmarc::parse
