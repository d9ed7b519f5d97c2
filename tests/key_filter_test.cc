#include "libstore/client/key_filter.h"

#include <catch2/catch.hpp>
#include <random>
#include <string>

using namespace cairn::s3;

TEST_CASE("GlobMatch: stars, question marks and bracket sets", "[sync]") {
  struct Case {
    const char* pattern;
    const char* text;
    bool match;
  };
  const Case cases[] = {
      {"", "", true},
      {"", "a", false},
      {"*", "", true},
      {"*", "a/b/c", true},  // '*' crosses '/', as the aws cli's fnmatch does
      {"*.tmp", "a/b.tmp", true},
      {"*.tmp", "a/b.tmp.x", false},
      {"a*b*c", "aXXbYYc", true},
      {"a*b*c", "aXXbYY", false},
      {"a*b", "ab", true},
      {"**", "x", true},
      {"?", "a", true},
      {"?", "", false},
      {"?", "ab", false},
      {"a?c", "a/c", true},
      {"[abc]", "b", true},
      {"[abc]", "d", false},
      {"[a-c]x", "bx", true},
      {"[a-c]x", "dx", false},
      {"[!a-c]x", "dx", true},
      {"[^a-c]x", "ax", false},
      {"[]]", "]", true},
      {"[!]]", "]", false},
      {"[!]]", "a", true},
      {"[a-]", "-", true},
      {"[", "[", true},        // no closing ']': a literal '['
      {"a[b", "a[b", true},
      {"a[b", "ab", false},
      {"[*]", "*", true},     // the way to match a literal '*'
      {"[*]", "a", false},
      {"dir/*", "dir/a/b", true},
      {"dir/*", "dir2/a", false},
      {"caf\xc3\xa9*", "caf\xc3\xa9/x", true},
      {"caf?", "caf\xc3\xa9", false},  // one byte, not one character
      {"caf??", "caf\xc3\xa9", true},
      {"*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
  };
  for (const auto& c : cases) {
    INFO("pattern '" << c.pattern << "' text '" << c.text << "'");
    CHECK(GlobMatch(c.pattern, c.text) == c.match);
  }
}

// A plain recursive matcher of the same grammar (without bracket sets) as the reference.
static bool RefMatch(const std::string& p, size_t i, const std::string& t, size_t j) {
  if (i == p.size()) return j == t.size();
  if (p[i] == '*') {
    for (size_t k = j; k <= t.size(); ++k)
      if (RefMatch(p, i + 1, t, k)) return true;
    return false;
  }
  if (j == t.size()) return false;
  if (p[i] == '?' || p[i] == t[j]) return RefMatch(p, i + 1, t, j + 1);
  return false;
}

TEST_CASE("GlobMatch agrees with a recursive reference on random patterns", "[sync]") {
  std::mt19937 rng(11);
  const char alphabet[] = "ab/*?";
  for (int n = 0; n < 20000; ++n) {
    std::string p, t;
    for (int i = int(rng() % 7); i > 0; --i) p += alphabet[rng() % 5];
    for (int i = int(rng() % 8); i > 0; --i) t += alphabet[rng() % 3];
    INFO("pattern '" << p << "' text '" << t << "'");
    REQUIRE(GlobMatch(p, t) == RefMatch(p, 0, t, 0));
  }
}

TEST_CASE("KeyFilter: the last matching rule wins, unmatched keys are included", "[sync]") {
  KeyFilter none;
  CHECK(none.Included("anything"));
  CHECK(none.empty());

  KeyFilter f;
  f.Add(FilterKind::kExclude, "*");
  f.Add(FilterKind::kInclude, "*.txt");
  CHECK(f.Included("a.txt"));
  CHECK(f.Included("dir/b.txt"));
  CHECK_FALSE(f.Included("a.bin"));

  // The other order: the exclude comes last and wins.
  KeyFilter g({{FilterKind::kInclude, "*.txt"}, {FilterKind::kExclude, "*"}});
  CHECK_FALSE(g.Included("a.txt"));

  KeyFilter h;
  h.Add(FilterKind::kExclude, "logs/*");
  CHECK_FALSE(h.Included("logs/x"));
  CHECK(h.Included("logsx"));
  CHECK(h.Included("a/logs/x"));  // matched against the whole relative key
  CHECK(std::string(Name(FilterKind::kInclude)) == "include");
}
