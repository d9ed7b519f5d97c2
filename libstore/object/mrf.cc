// The MRF ("most recently failed") journal: one small file per partial write or degraded read in
// .cairn/mrf/ of every volume that took part, so the list survives restarts and the loss of a
// volume. Heal drains it; nothing here drops an entry. Byte layout in docs/format.md.
#include <algorithm>
#include <map>

#include "libstore/format/encoding.h"
#include "libstore/format/volume_format.h"
#include "libstore/object/erasure_set.h"
#include "libstore/object/erasure_set_internal.h"

namespace cairn {
namespace {

constexpr char kMrfMagic[8] = {'C', 'A', 'I', 'R', 'N', 'M', 'R', 'F'};
constexpr uint32_t kMrfVersion = 1;

std::string EncodeMrf(const MrfEntry& e) {
  std::string out;
  Writer w(&out);
  w.Bytes(kMrfMagic, 8);
  w.U32(kMrfVersion);
  w.Str(e.bucket);
  w.Str(e.key);
  w.Bytes(e.version_id.b, 16);
  w.I64(e.time_ns);
  w.U32(uint32_t(e.positions.size()));
  for (uint32_t p : e.positions) w.U32(p);
  Seal(&out);
  return out;
}

}  // namespace

bool DecodeMrf(std::string_view in, MrfEntry* e) {
  Reader r{std::string_view()};
  if (!OpenSealed(in, kMrfMagic, kMrfVersion, &r)) return false;
  e->bucket = r.Str(63);
  e->key = r.Str(1024);
  r.Bytes(e->version_id.b, 16);
  e->time_ns = r.I64();
  uint32_t n = r.U32();
  if (!r.ok() || n > 32) return false;
  e->positions.clear();
  for (uint32_t i = 0; i < n; ++i) e->positions.push_back(r.U32());
  return r.ok() && r.remaining() == 0;
}

void ErasureSet::RecordMrf(const std::string& bucket, const std::string& key, const Uuid& version,
                           const std::vector<uint32_t>& positions) {
  MrfEntry e;
  e.bucket = bucket;
  e.key = key;
  e.version_id = version;
  e.positions = positions;
  e.time_ns = NowNs();
  // Time first so a directory listing sorts oldest first.
  char ts[32];
  std::snprintf(ts, sizeof(ts), "%020lld", static_cast<long long>(e.time_ns));
  e.id = std::string(ts) + "-" + Uuid::Random().Hex();
  std::string bytes = EncodeMrf(e);
  for (Volume* v : volumes_) {
    if (v == nullptr) continue;
    // Best effort per volume: the entry lands, durably, on every volume that can take it.
    ReplaceFile(*v, std::string(kMrfDir) + "/" + e.id, bytes, kTmpDir).IgnoreError();
  }
}

Result<std::vector<MrfEntry>> ErasureSet::ListMrf() {
  std::map<std::string, MrfEntry> merged;
  for (Volume* v : volumes_) {
    if (v == nullptr) continue;
    auto entries = v->ListDir(kMrfDir);
    if (!entries.ok()) continue;
    for (const auto& d : *entries) {
      if (merged.count(d.name)) continue;
      auto raw = v->ReadFile(std::string(kMrfDir) + "/" + d.name, 1 << 16);
      MrfEntry e;
      if (raw.ok() && DecodeMrf(*raw, &e)) {
        e.id = d.name;
        merged.emplace(d.name, std::move(e));
      }
    }
  }
  std::vector<MrfEntry> out;
  for (auto& [id, e] : merged) out.push_back(std::move(e));
  return out;
}

void ErasureSet::RemoveMrf(const std::string& id) {
  for (Volume* v : volumes_) {
    if (v != nullptr) v->Remove(std::string(kMrfDir) + "/" + id).IgnoreError();
  }
}

}  // namespace cairn
