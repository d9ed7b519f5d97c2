// cp's sources: wildcard matching, the literal base of a pattern, the key checks that keep
// downloads inside their target, the streamed local walk (symlinks followed, loops refused,
// non-regular files refused), and run's line splitting.
#include "commands/cp_sources.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>

#include "commands/commands.h"

using namespace cairn;
using namespace cairn::cli;

TEST_CASE("cp: wildcards", "[transfer]") {
  CHECK(WildcardMatch("*.txt", "a.txt"));
  CHECK_FALSE(WildcardMatch("*.txt", "d/a.txt"));  // * does not cross '/'
  CHECK(WildcardMatch("**.txt", "d/e/a.txt"));     // ** does
  CHECK(WildcardMatch("d/**", "d/e/f"));
  CHECK(WildcardMatch("d/**/f", "d/e/g/f"));
  CHECK_FALSE(WildcardMatch("d/*", "d/e/f"));
  CHECK(WildcardMatch("d/*", "d/e"));
  CHECK(WildcardMatch("?", "a"));
  CHECK_FALSE(WildcardMatch("?", "/"));
  CHECK_FALSE(WildcardMatch("?", "ab"));
  CHECK(WildcardMatch("a?c", "abc"));
  CHECK(WildcardMatch("*", ""));
  CHECK(WildcardMatch("a*b*c", "axxbyyc"));
  CHECK_FALSE(WildcardMatch("a*b*c", "axxbyy"));
  CHECK(WildcardMatch("sp ace/ñ*☃.txt", "sp ace/ñame ☃.txt"));
  CHECK(WildcardMatch("x", "x"));
  CHECK_FALSE(WildcardMatch("x", "y"));
  CHECK_FALSE(WildcardMatch("", "y"));
  CHECK(HasWildcard("a*"));
  CHECK(HasWildcard("a?"));
  CHECK_FALSE(HasWildcard("a[b]"));
  CHECK(WildcardBase("a/b*/c") == "a/");
  CHECK(WildcardBase("x*") == "");
  CHECK(WildcardBase("a/b/c?") == "a/b/");
  CHECK(WildcardBase("/abs/**") == "/abs/");
}

TEST_CASE("cp: keys that would leave the target are refused", "[transfer]") {
  CHECK(CheckRelativeKey("a").ok());
  CHECK(CheckRelativeKey("a/b c/ü").ok());
  CHECK(CheckRelativeKey("..a/b..").ok());
  for (const char* bad : {"", "/etc/passwd", "../x", "a/../../x", "a/..", "a//b", "a/", "./a",
                          "a/./b", "."}) {
    INFO(bad);
    const Status s = CheckRelativeKey(bad);
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(s.message().find("refusing") != std::string::npos);
  }
  CHECK(CheckRelativeKey(std::string_view("a\0b", 3)).code() == Code::kInvalidArgument);
}

TEST_CASE("cp: the local walk", "[transfer]") {
  std::string root = "/tmp/cairn-walk-XXXXXX";
  REQUIRE(::mkdtemp(root.data()) != nullptr);
  auto file = [&](const std::string& rel, const std::string& body) {
    std::ofstream(root + "/" + rel) << body;
  };
  REQUIRE(::mkdir((root + "/d").c_str(), 0700) == 0);
  REQUIRE(::mkdir((root + "/d/e").c_str(), 0700) == 0);
  file("top", "1");
  file("d/mid", "22");
  file("d/e/deep", "333");
  REQUIRE(::symlink("../top", (root + "/d/link").c_str()) == 0);    // a file symlink: followed
  REQUIRE(::symlink("..", (root + "/d/e/up").c_str()) == 0);        // a loop: refused
  REQUIRE(::symlink("nowhere", (root + "/dangling").c_str()) == 0);  // refused
  REQUIRE(::mkfifo((root + "/fifo").c_str(), 0600) == 0);            // refused

  std::map<std::string, uint64_t> files;
  std::map<std::string, std::string> errors;
  auto collect = [&](LocalEntry&& e) -> Status {
    if (e.error.ok()) files[e.rel] = e.size;
    else errors[e.rel] = e.error.message();
    return Status::Ok();
  };
  REQUIRE(WalkLocal(root, -1, collect).ok());
  CHECK(files == std::map<std::string, uint64_t>{{"top", 1}, {"d/mid", 2}, {"d/e/deep", 3},
                                                 {"d/link", 1}});
  REQUIRE(errors.size() == 3);
  CHECK(errors["d/e/up"].find("symlink loop") != std::string::npos);
  CHECK(errors["fifo"].find("not a regular file") != std::string::npos);
  CHECK(errors.count("dangling") == 1);

  files.clear();
  errors.clear();
  REQUIRE(WalkLocal(root, 0, collect).ok());  // the root's own entries only
  CHECK(files == std::map<std::string, uint64_t>{{"top", 1}});

  files.clear();
  REQUIRE(WalkLocal(root + "/d/mid", -1, collect).ok());  // a file root: itself
  CHECK(files == std::map<std::string, uint64_t>{{"", 2}});

  int seen = 0;  // on_entry's error stops the walk and is returned
  Status s = WalkLocal(root, -1, [&](LocalEntry&&) -> Status {
    ++seen;
    return Status(Code::kAborted, "stop");
  });
  CHECK(s.code() == Code::kAborted);
  CHECK(seen == 1);
  CHECK(WalkLocal(root + "/missing", -1, collect).code() == Code::kNotFound);
  [[maybe_unused]] int r = std::system(("rm -rf '" + root + "'").c_str());
}

TEST_CASE("run: lines split like a shell's words", "[transfer]") {
  using V = std::vector<std::string>;
  auto split = [](std::string_view l) {
    auto r = SplitCommandLine(l);
    REQUIRE(r.ok());
    return *r;
  };
  CHECK(split("cp a b") == V{"cp", "a", "b"});
  CHECK(split("  cp\t'a b'  \"c d\" ") == V{"cp", "a b", "c d"});
  CHECK(split("cp a\\ b 'x'\"y\"z") == V{"cp", "a b", "xyz"});
  CHECK(split("cp \"q\\\"uote \\\\ \\$x\" 'it''s'") == V{"cp", "q\"uote \\ $x", "its"});
  CHECK(split("cp '$(rm -rf /);&|*?' ''") == V{"cp", "$(rm -rf /);&|*?", ""});
  CHECK(split("# comment").empty());
  CHECK(split("").empty());
  CHECK(split("cp a#b # rest") == V{"cp", "a#b"});
  CHECK(SplitCommandLine("cp 'open").status().code() == Code::kInvalidArgument);
  CHECK(SplitCommandLine("cp \"open").status().code() == Code::kInvalidArgument);
}

TEST_CASE("cp and sync: --exclude/--include in command-line order", "[transfer]") {
  CLI::App app("t");
  CLI::App* sub = app.add_subcommand("cp", "");
  FilterFlags f;
  f.Bind(sub);
  std::vector<std::string> rest;
  sub->add_option("paths", rest);
  std::vector<std::string> args{"cp",        "--exclude", "*", "--exclude", "a/*", "x",
                                "--include", "*.txt",     "s3://b/"};
  std::reverse(args.begin(), args.end());  // CLI11 takes them from the back
  app.parse(args);
  const std::vector<s3::FilterRule> rules = f.Rules();
  REQUIRE(rules.size() == 3);
  CHECK(rules[0].kind == s3::FilterKind::kExclude);
  CHECK(rules[0].pattern == "*");
  CHECK(rules[1].kind == s3::FilterKind::kExclude);
  CHECK(rules[1].pattern == "a/*");
  CHECK(rules[2].kind == s3::FilterKind::kInclude);
  CHECK(rules[2].pattern == "*.txt");
  const s3::KeyFilter filter(rules);
  CHECK(filter.Included("a/b.txt"));  // the last rule that matches decides
  CHECK(!filter.Included("a/b.dat"));
  CHECK(!filter.Included("c"));
  CHECK(rest == std::vector<std::string>{"x", "s3://b/"});

  CLI::App none("t");
  FilterFlags g;
  g.Bind(&none);
  none.parse(std::vector<std::string>{});
  CHECK(g.Rules().empty());
}
