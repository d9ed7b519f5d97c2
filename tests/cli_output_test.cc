// What the commands print for text taken from data: UTF-8 checks, the shell-escape quoting of
// keys on a terminal (checked against a real bash), the escapes of error lines, and the lossless
// JSON encoding of keys that are not UTF-8.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/json_out.h"
#include "cli/progress.h"
#include "cli/text_out.h"

namespace cairn::cli {
namespace {

using nlohmann::json;

TEST_CASE("IsUtf8 and Utf8Length: well-formed UTF-8 only", "[output]") {
  CHECK(IsUtf8(""));
  CHECK(IsUtf8("plain/key.txt"));
  CHECK(IsUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));  // é € 😀
  CHECK(IsUtf8("\x1B[31m\n\t"));                               // controls are UTF-8 too
  for (const char* bad : {"\xFF", "a\x80", "\xC0\xAF", "\xC1\xBF", "\xE0\x80\xAF", "\xED\xA0\x80",
                          "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xE2\x82", "\xC3"}) {
    INFO(bad);
    CHECK_FALSE(IsUtf8(bad));
  }
  uint32_t cp = 0;
  CHECK(Utf8Length("\xF0\x9F\x98\x80", 0, &cp) == 4);
  CHECK(cp == 0x1F600);
  CHECK(Utf8Length("\xC2\x9B", 0, &cp) == 2);
  CHECK(cp == 0x9B);
}

TEST_CASE("ShellEscape: GNU ls's shell-escape style", "[output]") {
  CHECK(ShellEscape("plain/key-1.txt") == "plain/key-1.txt");
  CHECK(ShellEscape("a~b#c%d+e,f@g:h") == "a~b#c%d+e,f@g:h");
  CHECK(ShellEscape("caf\xC3\xA9") == "caf\xC3\xA9");
  CHECK(ShellEscape("") == "''");
  CHECK(ShellEscape("my file") == "'my file'");
  CHECK(ShellEscape("~home") == "'~home'");
  CHECK(ShellEscape("#tag") == "'#tag'");
  CHECK(ShellEscape("a*b") == "'a*b'");
  CHECK(ShellEscape("it's") == "\"it's\"");
  CHECK(ShellEscape("it's $5") == "'it'\\''s $5'");
  CHECK(ShellEscape("a\nb") == "'a'$'\\n''b'");
  CHECK(ShellEscape("\tb") == "$'\\t''b'");
  CHECK(ShellEscape("e\x1B[31mred") == "'e'$'\\033''[31mred'");
  CHECK(ShellEscape("bad\xFFx") == "'bad'$'\\377''x'");
  CHECK(ShellEscape("csi\xC2\x9B") == "'csi'$'\\302\\233'");
  const std::string rlo = "\xE2\x80\xAE";  // U+202E, RIGHT-TO-LEFT OVERRIDE
  CHECK(ShellEscape(rlo + "evil") == "$'\\342\\200\\256''evil'");
  CHECK(ShellEscape("\x7F") == "$'\\177'");
}

TEST_CASE("EscapeUnprintable: one line, printable text untouched", "[output]") {
  CHECK(EscapeUnprintable("bkt/it's a key") == "bkt/it's a key");
  CHECK(EscapeUnprintable("bkt/e\x1B[2J\nx\ty\xFF: no such object") ==
        "bkt/e\\033[2J\\nx\\ty\\377: no such object");
  CHECK(EscapeUnprintable("caf\xC3\xA9") == "caf\xC3\xA9");
}

// Every string, quoted by ShellEscape and read back by bash, gives back the same bytes.
TEST_CASE("ShellEscape round-trips through bash", "[output]") {
  if (std::system("command -v bash >/dev/null 2>&1") != 0) FAIL("bash is not installed");
  std::mt19937_64 rng(8);
  std::vector<std::string> keys = {
      "a b",       "it's", "'",     "''",   "\"", "\\",        "$HOME",      "`id`",
      "!x",        "~",    "#",     "a\nb", "\n", "e\x1B[31m", "\xFF\xFE",   "\xC2\x9B",
      "tab\there", "x=1",  "{a,b}", "[ab]", "*",  "?",         "caf\xC3\xA9"};
  const std::string alphabet = std::string("ab '\"\\$`!~#=*?[]{}()|&;<>^%\t\n\r\x1B\x7F") +
                               "\xC2\x9B\xC3\xA9\xE2\x80\xAE\xFF\x80";
  for (int i = 0; i < 300; ++i) {
    std::string k;
    size_t len = 1 + rng() % 12;
    for (size_t j = 0; j < len; ++j) k += alphabet[rng() % alphabet.size()];
    keys.push_back(k);
  }
  std::string script = "printf '%s\\0'";
  for (const auto& k : keys) script += " " + ShellEscape(k);
  script += "\n";
  const char* tmp = std::getenv("TMPDIR");
  std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/cairn-shell-escape-XXXXXX";
  int fd = ::mkstemp(path.data());
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, script.data(), script.size()) == ssize_t(script.size()));
  ::close(fd);
  std::string out;
  if (FILE* p = ::popen(("bash '" + path + "'").c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    CHECK(::pclose(p) == 0);
  }
  ::unlink(path.c_str());
  std::vector<std::string> back;
  for (size_t start = 0, nul; (nul = out.find('\0', start)) != std::string::npos; start = nul + 1) {
    back.push_back(out.substr(start, nul - start));
  }
  REQUIRE(back.size() == keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    INFO(ShellEscape(keys[i]));
    CHECK(back[i] == keys[i]);
    // And nothing a terminal would act on is left in the quoted form.
    for (char c : ShellEscape(keys[i])) CHECK((static_cast<unsigned char>(c) >= 0x20 && c != 0x7F));
  }
}

// What a progress bar labelled with a hostile key draws on stderr.
std::string DrawnProgress(const std::string& label) {
  std::fflush(stderr);
  const char* tmp = std::getenv("TMPDIR");
  std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/cairn-progress-XXXXXX";
  int fd = ::mkstemp(path.data());
  REQUIRE(fd >= 0);
  int saved = ::dup(2);
  ::dup2(fd, 2);
  {
    Progress p(label, 100, true);
    std::this_thread::sleep_for(std::chrono::milliseconds(120));
    p.Add(50);  // past the 100 ms between redraws: draws
  }
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::string out;
  char buf[4096];
  ssize_t n;
  ::lseek(fd, 0, SEEK_SET);
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, size_t(n));
  ::close(fd);
  ::unlink(path.c_str());
  return out;
}

TEST_CASE("Progress: the label is escaped and cut", "[output]") {
  std::string drawn = DrawnProgress("put e\x1B[2J\nx");
  CHECK(drawn.find("put e\\033[2J\\nx [") != std::string::npos);
  CHECK(drawn.find('\n') == std::string::npos);
  // Only the bar's own \r and its erase-line sequence at the end are controls.
  CHECK(std::count(drawn.begin(), drawn.end(), '\x1B') == 1);
  CHECK(drawn.size() > 4);
  CHECK(drawn.substr(drawn.size() - 4) == "\r\x1B[K");
  std::string long_label = "put " + std::string(200, 'k');
  drawn = DrawnProgress(long_label);
  CHECK(drawn.find("put " + std::string(Progress::kMaxLabel - 7, 'k') + "... [") !=
        std::string::npos);
  CHECK(drawn.find(long_label) == std::string::npos);
}

std::string UrlDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += char(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

TEST_CASE("PutText: UTF-8 as it is, anything else percent-encoded under <field>_url", "[output]") {
  json j;
  PutText(j, "key", "n\nl\te\x1B");
  CHECK(Dump(j) == "{\"key\":\"n\\nl\\te\\u001b\"}");
  CHECK(json::parse(Dump(j))["key"] == "n\nl\te\x1B");  // JSON carries it exactly

  json k;
  PutText(k, "key", "bad\xFFx/%41 z");
  CHECK(Dump(k) == "{\"key_url\":\"bad%FFx/%2541%20z\"}");
  CHECK(UrlDecode(k["key_url"]) == "bad\xFFx/%41 z");

  CHECK(UrlEncode("AZaz09-._~/") == "AZaz09-._~/");
  std::string all;
  for (int c = 1; c < 256; ++c) all += char(c);
  CHECK(UrlDecode(UrlEncode(all)) == all);
}

TEST_CASE("PutMeta: pairs that are not UTF-8 go to meta_url", "[output]") {
  json j;
  PutMeta(j, {});
  CHECK(Dump(j) == "null");
  PutMeta(j, {{"owner", "me"}, {"raw", "\xFF"}});
  CHECK(Dump(j) == "{\"meta\":{\"owner\":\"me\"},\"meta_url\":{\"raw\":\"%FF\"}}");
}

}  // namespace
}  // namespace cairn::cli
