// ParseMeta on `put --meta NAME=VALUE` items (one per input line). Accepted items give lower-case
// HTTP token names, each once, and values that are well-formed UTF-8 (checked here against a
// validator of our own) with no control character and no blank at either end; printed back as
// NAME=VALUE they parse to the same pairs.
// Coverage: cli/parse.cc cairn::cli::ParseMeta(
// Coverage: cli/parse.cc cairn::cli::ValidateFieldValue(
#include <set>

#include "cli/parse.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/utf8_ref.h"

namespace {

bool Token(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(char(c)) != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> items;
  for (size_t start = 0; start <= in.size();) {
    size_t nl = in.find('\n', start);
    if (nl == std::string_view::npos) nl = in.size();
    items.emplace_back(in.substr(start, nl - start));
    start = nl + 1;
  }
  std::vector<std::pair<std::string, std::string>> out;
  Status st = cli::ParseMeta(items, &out);
  if (!st.ok()) {
    FUZZ_CHECK(st.code() == Code::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(out.size() == items.size());
  std::set<std::string> names;
  std::vector<std::string> again;
  for (const auto& [name, value] : out) {
    FUZZ_CHECK(!name.empty());
    for (unsigned char c : name) FUZZ_CHECK(Token(c));
    FUZZ_CHECK(names.insert(name).second);
    std::vector<uint32_t> cps;
    FUZZ_CHECK(fuzz::DecodeUtf8(value, &cps));
    for (uint32_t c : cps) {
      FUZZ_CHECK(c == '\t' || (c >= 0x20 && c != 0x7F && !(c >= 0x80 && c <= 0x9F)));
    }
    FUZZ_CHECK(cps.empty() || (cps.front() != ' ' && cps.front() != '\t' && cps.back() != ' ' &&
                               cps.back() != '\t'));
    again.push_back(name + "=" + value);
  }
  std::vector<std::pair<std::string, std::string>> out2;
  FUZZ_CHECK(cli::ParseMeta(again, &out2).ok());
  FUZZ_CHECK(out2 == out);
  return 0;
}
