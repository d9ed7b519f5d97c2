// The reference model of an S3 listing (all pages joined), and a helper that pages through any
// ObjectStore's listing: shared by the erasure set's and the plain directory's listing tests.
#pragma once

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "libstore/object/object_store.h"

namespace cairn::test {

struct Page {
  std::vector<std::string> keys, prefixes;
};

// What S3 returns for the whole listing (all pages joined).
inline Page Reference(const std::set<std::string>& keys, const std::string& prefix,
                      const std::string& delim, const std::string& start_after) {
  Page p;
  std::set<std::string> cps;
  for (const auto& k : keys) {
    if (k.compare(0, prefix.size(), prefix) != 0 || k <= start_after) continue;
    if (!delim.empty()) {
      size_t pos = k.find(delim, prefix.size());
      if (pos != std::string::npos) {
        cps.insert(k.substr(0, pos + delim.size()));
        continue;
      }
    }
    p.keys.push_back(k);
  }
  p.prefixes.assign(cps.begin(), cps.end());
  return p;
}

inline Page ListAll(ObjectStore& store, const std::string& prefix, const std::string& delim,
                    const std::string& start_after, int max_keys, int* pages = nullptr,
                    const std::string& bucket = "bkt") {
  Page p;
  ListOptions lo;
  lo.prefix = prefix;
  lo.delimiter = delim;
  lo.start_after = start_after;
  lo.max_keys = max_keys;
  int count = 0;
  while (true) {
    auto r = store.ListObjects(bucket, lo);
    REQUIRE(r.ok());
    ++count;
    REQUIRE(int(r->objects.size() + r->common_prefixes.size()) <= max_keys);
    for (const auto& o : r->objects) p.keys.push_back(o.key);
    for (const auto& c : r->common_prefixes) p.prefixes.push_back(c);
    if (!r->truncated) break;
    REQUIRE(!r->next_token.empty());
    lo.continuation_token = r->next_token;
    REQUIRE(count < 100000);
  }
  if (pages) *pages = count;
  return p;
}

}  // namespace cairn::test
