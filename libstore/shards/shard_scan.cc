// ScanShards: which files are shards of which encode, the one classification that verify, repair
// and decode share.
#include <algorithm>
#include <map>
#include <set>

#include "libstore/shards/shard_codec.h"

namespace cairn {
namespace {

// Reads and checks one file's header.
void ReadHeader(Volume& vol, ShardFileInfo* info) {
  auto file = vol.NewReadableFile(info->path);
  if (!file.ok()) {
    info->header_status = file.status();
    return;
  }
  auto size = (*file)->Size();
  if (!size.ok()) {
    info->header_status = size.status();
    return;
  }
  info->size = *size;
  std::string head(kShardHeaderSize, '\0');
  auto got = (*file)->ReadAt(0, head.data(), head.size());
  if (!got.ok()) {
    info->header_status = got.status();
    return;
  }
  head.resize(*got);
  auto h = ShardHeader::Decode(head);
  if (!h.ok()) {
    info->header_status = h.status();
  } else if (!h->complete) {
    info->header_status = Corruption("incomplete shard (its encode did not finish)");
  } else if (info->size > h->expected_size()) {
    // Nothing that damages a shard makes it longer: the header does not describe this file (a
    // crafted header claiming a size of 0 must not make repair cut the data away).
    info->header_status =
        Corruption("longer than its header says (" + std::to_string(info->size) + " bytes, not " +
                   std::to_string(h->expected_size()) + "): the header does not describe it");
  } else {
    info->header = std::move(h).value();
    info->role = ShardRole::kMember;
  }
}

// How two headers of one set id differ, for ConflictError.
std::string Differences(const ShardHeader& a, const ShardHeader& b) {
  std::vector<std::string> d;
  if (a.name != b.name) d.push_back("name '" + a.name + "' vs '" + b.name + "'");
  if (a.k != b.k || a.m != b.m) {
    d.push_back("K+M " + std::to_string(a.k) + "+" + std::to_string(a.m) + " vs " +
                std::to_string(b.k) + "+" + std::to_string(b.m));
  }
  if (a.block_size != b.block_size) {
    d.push_back("block size " + std::to_string(a.block_size) + " vs " +
                std::to_string(b.block_size));
  }
  if (a.file_size != b.file_size) {
    d.push_back("size " + std::to_string(a.file_size) + " vs " + std::to_string(b.file_size));
  }
  if (a.file_hash != b.file_hash)
    d.push_back("file hash " + a.file_hash.Hex().substr(0, 8) + " vs " +
                b.file_hash.Hex().substr(0, 8));
  std::string out;
  for (const auto& s : d) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

std::string_view Name(ShardRole r) {
  switch (r) {
    case ShardRole::kMember:
      return "member";
    case ShardRole::kCopy:
      return "copy";
    case ShardRole::kConflict:
      return "conflict";
    case ShardRole::kBadHeader:
      return "bad-header";
  }
  return "?";
}

std::string ShowPath(const std::string& root, const std::string& path) {
  return root == "/" ? "/" + path : root + "/" + path;
}

std::string ShowPath(const Volume& vol, const std::string& path) {
  return ShowPath(vol.Describe(), path);
}

bool IsShardFileName(std::string_view name) {
  return name.size() > 6 && name[0] != '.' && name.substr(name.size() - 6) == ".cairn";
}

std::string ShardScan::Show(const std::string& path) const { return ShowPath(root, path); }

std::string ShardSet::Label() const {
  return ref.name + " (set " + ref.set_id.Hex().substr(0, 8) + ")";
}

Result<ShardScan> ScanShards(Volume& vol, const std::vector<std::string>& paths,
                             const ScanOptions& o) {
  ShardScan scan;
  scan.root = vol.Describe();
  // Expand directories into the *.cairn files they hold; remember which directory each came from.
  struct Found {
    std::string path, dir;  // dir: the named directory it was listed in, "" if named itself
  };
  std::vector<Found> found;
  for (const auto& p : paths) {
    auto st = vol.Stat(p);
    if (!st.ok()) return st.status();
    if (!st->is_dir()) {
      found.push_back({p, ""});
      continue;
    }
    ASSIGN_OR_RETURN(auto entries, vol.ListDir(p));
    std::vector<std::string> names;
    for (const auto& e : entries) {
      if (!e.is_dir() && IsShardFileName(e.name)) names.push_back(e.name);
    }
    std::sort(names.begin(), names.end());
    for (const auto& nm : names) found.push_back({JoinPath(p, nm), p});
  }
  if (found.empty()) return NotFound("no shard files (*.cairn) found");

  // Read each file once, wherever it is reached from.
  std::vector<std::string> listed_in;  // by position in scan.files
  std::set<std::string> seen;
  for (const auto& f : found) {
    ShardFileInfo info;
    info.found = f.path;
    info.path = f.path;
    if (o.resolve) {
      auto real = o.resolve(f.path);
      if (!real.ok()) {
        info.header_status = real.status();
      } else {
        info.path = std::move(real).value();
      }
    }
    if (!seen.insert(info.path).second) continue;
    if (info.header_status.ok()) ReadHeader(vol, &info);
    scan.files.push_back(std::move(info));
    listed_in.push_back(f.dir);
  }

  // Group by set id; within a set id, group identical headers (all but the index) into variants.
  struct Variant {
    ShardHeader h;
    std::vector<size_t> files;
    std::set<uint32_t> indexes;
  };
  std::map<Uuid, std::vector<Variant>> by_id;
  std::vector<Uuid> order;  // set ids in the order first seen
  for (size_t i = 0; i < scan.files.size(); ++i) {
    const ShardFileInfo& f = scan.files[i];
    if (f.role == ShardRole::kBadHeader) continue;
    auto [it, added] = by_id.try_emplace(f.header.set_id);
    if (added) order.push_back(f.header.set_id);
    auto v = std::find_if(it->second.begin(), it->second.end(),
                          [&](const Variant& x) { return x.h.SameEncode(f.header); });
    if (v == it->second.end()) v = it->second.insert(it->second.end(), Variant{f.header, {}, {}});
    v->files.push_back(i);
    v->indexes.insert(f.header.index);
  }
  if (by_id.empty()) {
    const ShardFileInfo& f = scan.files[0];
    std::string why = f.header_status.message();
    // Errors from the volume name the file already; format errors do not.
    if (why.rfind(scan.Show(f.path), 0) != 0) why = scan.Show(f.found) + ": " + why;
    return Corruption("no usable shard among the " + std::to_string(scan.files.size()) +
                      " files given (" + why + ")");
  }

  for (const Uuid& id : order) {
    std::vector<Variant>& vs = by_id[id];
    // The members: the variant with the most distinct indexes, then the most files, then the first.
    size_t best = 0;
    for (size_t v = 1; v < vs.size(); ++v) {
      if (std::make_pair(vs[v].indexes.size(), vs[v].files.size()) >
          std::make_pair(vs[best].indexes.size(), vs[best].files.size())) {
        best = v;
      }
    }
    ShardSet set;
    set.ref = vs[best].h;
    set.ref.index = scan.files[vs[best].files[0]].header.index;
    set.copies.resize(set.ref.n());
    for (size_t v = 0; v < vs.size(); ++v) {
      if (v == best) continue;
      for (size_t i : vs[v].files) set.conflicts.push_back(i);
    }
    std::sort(set.conflicts.begin(), set.conflicts.end());
    for (size_t i : vs[best].files) {
      auto& list = set.copies[scan.files[i].header.index];
      // The file with the canonical name is the member, the others its copies.
      const std::string want = ShardFileName(set.ref.name, scan.files[i].header.index, set.ref.n());
      const bool canonical =
          BaseName(scan.files[i].found) == want || BaseName(scan.files[i].path) == want;
      if (canonical) {
        list.insert(list.begin(), i);
      } else {
        list.push_back(i);
      }
      if (set.dir.empty() && !listed_in[i].empty()) set.dir = listed_in[i];
    }
    if (set.dir.empty()) set.dir = ParentDir(scan.files[vs[best].files[0]].found);
    scan.sets.push_back(std::move(set));
  }
  std::sort(scan.sets.begin(), scan.sets.end(), [](const ShardSet& a, const ShardSet& b) {
    return std::make_pair(a.ref.name, a.ref.set_id) < std::make_pair(b.ref.name, b.ref.set_id);
  });
  for (size_t s = 0; s < scan.sets.size(); ++s) {
    const ShardSet& set = scan.sets[s];
    for (const auto& list : set.copies) {
      for (size_t c = 0; c < list.size(); ++c) {
        scan.files[list[c]].role = c == 0 ? ShardRole::kMember : ShardRole::kCopy;
        scan.files[list[c]].set = int(s);
      }
    }
    for (size_t i : set.conflicts) {
      scan.files[i].role = ShardRole::kConflict;
      scan.files[i].set = int(s);
    }
  }
  return scan;
}

Result<size_t> OnlySet(const ShardScan& scan) {
  if (scan.sets.size() == 1) return size_t(0);
  std::string names;
  for (const auto& s : scan.sets) names += (names.empty() ? "" : ", ") + s.Label();
  return InvalidArgument("the files given hold " + std::to_string(scan.sets.size()) + " encodes (" +
                         names + "): name the shard files of one");
}

Status ConflictError(const ShardScan& scan, size_t set) {
  const ShardSet& s = scan.sets[set];
  if (!s.conflicting()) return Status::Ok();
  const ShardFileInfo& odd = scan.files[s.conflicts.front()];
  size_t members = 0;
  for (const auto& list : s.copies) members += list.size();
  std::string more =
      s.conflicts.size() > 1 ? " (and " + std::to_string(s.conflicts.size() - 1) + " more)" : "";
  return Corruption(s.Label() + ": headers disagree within one encode: " + scan.Show(odd.path) +
                    more + " has " + Differences(odd.header, s.ref) + " in the other " +
                    std::to_string(members) +
                    " files: cannot tell which to trust (move the files that do not belong away)");
}

}  // namespace cairn
