#include "libstore/object/set_open.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "libstore/erasure/codec.h"
#include "libstore/format/bucket_meta.h"
#include "libstore/format/key_path.h"
#include "libstore/volume/kill_point.h"

namespace cairn {

uint32_t DefaultParity(uint32_t n) {
  if (n <= 1) return 0;
  if (n <= 3) return 1;
  if (n <= 5) return 2;
  if (n <= 7) return 3;
  return 4;
}

Result<std::pair<uint32_t, uint32_t>> ParseEc(const std::string& s) {
  size_t plus = s.find('+');
  auto bad = [&] { return InvalidArgument("--ec must look like K+M (e.g. 4+2), got '" + s + "'"); };
  if (plus == std::string::npos || plus == 0 || plus + 1 == s.size()) return bad();
  for (size_t i = 0; i < s.size(); ++i) {
    if (i != plus && (s[i] < '0' || s[i] > '9')) return bad();
  }
  if (plus > 3 || s.size() - plus - 1 > 3) return bad();
  uint32_t k = uint32_t(std::atoi(s.substr(0, plus).c_str()));
  uint32_t m = uint32_t(std::atoi(s.substr(plus + 1).c_str()));
  if (k < 1) return InvalidArgument("--ec " + s + ": K must be at least 1");
  if (k + m > uint32_t(kMaxShards)) {
    return InvalidArgument("--ec " + s + ": K+M must be at most " + std::to_string(kMaxShards));
  }
  return std::make_pair(k, m);
}

namespace {

Result<VolumeFormat> ReadFormat(Volume& v) {
  ASSIGN_OR_RETURN(std::string raw, v.ReadFile(kFormatPath, kMaxFormatFileSize));
  auto f = VolumeFormat::Decode(raw);
  if (!f.ok()) return f.status().WithContext(v.Describe() + "/" + kFormatPath);
  return f;
}

// Splits an absolute or relative path into its components ("" and "." dropped).
std::vector<std::string> Components(const std::string& p) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    std::string c = p.substr(start, end - start);
    if (!c.empty() && c != ".") out.push_back(std::move(c));
    start = end + 1;
  }
  return out;
}

std::string Join(const std::vector<std::string>& comps, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += "/" + comps[i];
  return out.empty() ? "/" : out;
}

std::string ParentPath(const std::string& abs) {
  size_t slash = abs.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : abs.substr(0, slash);
}

struct DirId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const DirId& o) const { return dev == o.dev && ino == o.ino; }
  bool operator<(const DirId& o) const { return dev != o.dev ? dev < o.dev : ino < o.ino; }
};

// Device and inode of a path (following symlinks: the user's own path), or errno.
int IdOf(const std::string& path, DirId* id, bool* is_dir = nullptr) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return errno;
  id->dev = st.st_dev;
  id->ino = st.st_ino;
  if (is_dir != nullptr) *is_dir = S_ISDIR(st.st_mode);
  return 0;
}

// Whether a member directory's entries count as empty: nothing, or a lost+found directory alone
// (a freshly made ext4 file system holds one; it is nobody's data).
bool EmptyMember(const std::vector<DirEntry>& entries) {
  for (const auto& e : entries) {
    if (!(e.is_dir() && e.name == "lost+found")) return false;
  }
  return true;
}

// flock(2) on directories, taken in (device, inode) order so that any two holders of overlapping
// sets of directories cannot deadlock; released on destruction. Serializes init and the
// formatting of replacement members across processes. A directory that cannot be opened is
// skipped (there is nothing in it to protect).
class DirLocks {
 public:
  explicit DirLocks(const std::vector<std::string>& dirs) {
    std::vector<std::pair<DirId, std::string>> order;
    for (const auto& d : dirs) {
      DirId id;
      if (IdOf(d, &id) == 0) order.emplace_back(id, d);
    }
    std::sort(order.begin(), order.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t i = 0; i < order.size(); ++i) {
      if (i > 0 && order[i].first == order[i - 1].first) continue;
      int fd = ::open(order[i].second.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) continue;
      while (::flock(fd, LOCK_EX) != 0 && errno == EINTR) {
      }
      fds_.push_back(fd);
    }
  }
  ~DirLocks() {
    for (int fd : fds_) ::close(fd);
  }
  DirLocks(const DirLocks&) = delete;
  DirLocks& operator=(const DirLocks&) = delete;

 private:
  std::vector<int> fds_;
};

}  // namespace

Status FormatMember(Volume& v, VolumeFormat f, uint32_t position, int64_t replaced_ns) {
  f.position = position;
  f.volume_id = f.members[position].volume_id;
  RETURN_IF_ERROR(v.MakeDirs(kTmpDir));
  RETURN_IF_ERROR(v.MakeDirs(kMrfDir));
  RETURN_IF_ERROR(v.MakeDirs(std::string(kSysDir) + "/locks"));
  // The replacement record before the format: a member never has a format without it.
  if (replaced_ns > 0) {
    RETURN_IF_ERROR(ReplaceFile(v, kReplacedPath, EncodeReplacedRecord(replaced_ns), kTmpDir));
  }
  // ReplaceFile syncs .cairn, where the directories just made are entries too; then .cairn's own
  // entry in the member's root.
  RETURN_IF_ERROR(ReplaceFile(v, kFormatPath, f.Encode(), kTmpDir));
  KeepReserve(v);
  return v.SyncDir("");
}

namespace {

// Whether f is a valid format of member `position` of the set whose reference format is ref.
bool IsMemberFormat(const VolumeFormat& f, const VolumeFormat& ref, uint32_t position) {
  return f.set_id == ref.set_id && f.volume_id == ref.members[position].volume_id && f.k == ref.k &&
         f.m == ref.m && f.block_size == ref.block_size;
}

// The set that some of its members' directories name.
struct FoundSet {
  VolumeFormat ref;                       // the first valid format among the directories given
  std::vector<std::string> member_paths;  // by position: where each member is looked for
  std::vector<std::string> foreign;       // directories given that belong to another set
};

// Reads the formats of dirs. A member's path is the directory the user gave for it when one of
// dirs holds that position's format, else the path recorded when the set was formatted: a user who
// remounted a disk elsewhere names it, and the rest are found where they were.
Result<FoundSet> FindSet(const std::vector<std::string>& dirs) {
  if (dirs.empty()) {
    return InvalidArgument("no volume set given (use --set DIR or CAIRN_SET)");
  }
  std::vector<std::pair<std::string, VolumeFormat>> given;
  Status first_error;
  for (const auto& d : dirs) {
    ASSIGN_OR_RETURN(std::string real, NormalizeMemberPath(d));
    auto v = NewLocalVolume(real);
    auto f = ReadFormat(*v);
    if (f.ok()) {
      given.emplace_back(real, std::move(f).value());
    } else if (first_error.ok()) {
      first_error = f.status().code() == Code::kNotFound
                        ? NotFound(real + " is not a cairn volume set member (no .cairn/format)")
                        : f.status();
    }
  }
  if (given.empty()) return first_error;
  FoundSet out;
  out.ref = given.front().second;
  for (const auto& [path, f] : given) {
    if (f.set_id != out.ref.set_id) out.foreign.push_back(path);
  }
  const uint32_t n = out.ref.k + out.ref.m;
  out.member_paths.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    out.member_paths[i] = out.ref.members[i].path;
    for (const auto& [gp, f] : given) {
      if (f.set_id == out.ref.set_id && f.position == i) out.member_paths[i] = gp;
    }
  }
  return out;
}

std::string MemberName(uint32_t position) { return "member " + std::to_string(position + 1); }

// Why a directory with a valid format cannot stand in for member `position`.
std::string ForeignFormatWhy(const VolumeFormat& f, const VolumeFormat& ref, uint32_t position) {
  if (f.set_id != ref.set_id) {
    return "belongs to another volume set (set " + f.set_id.Hex().substr(0, 8) + ")";
  }
  for (uint32_t j = 0; j < ref.members.size(); ++j) {
    if (j != position && ref.members[j].volume_id == f.volume_id) {
      return "holds " + MemberName(j) + "'s identity of this set, not " + MemberName(position) +
             "'s";
    }
  }
  if (f.volume_id != ref.members[position].volume_id) {
    return "holds a volume id this set does not know, not " + MemberName(position) + "'s";
  }
  return "has " + MemberName(position) + "'s identity but another layout (" + std::to_string(f.k) +
         "+" + std::to_string(f.m) + ", " + std::to_string(f.block_size) +
         "-byte blocks; the set is " + std::to_string(ref.k) + "+" + std::to_string(ref.m) + ", " +
         std::to_string(ref.block_size) + "-byte blocks)";
}

}  // namespace

Result<std::string> NormalizeMemberPath(const std::string& path) {
  if (path.empty()) return InvalidArgument("empty directory name");
  if (path.find('\0') != std::string::npos) return InvalidArgument("directory name contains NUL");
  std::string abs = path;
  if (abs[0] != '/') {
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof(cwd)) == nullptr) return PosixError("current directory", errno);
    abs = std::string(cwd) + "/" + path;
  }
  // The longest prefix that exists is resolved by the kernel's rules (realpath); what does not
  // exist yet has no symlinks to resolve and is cleaned lexically.
  const std::vector<std::string> comps = Components(abs);
  std::string base = "/";
  size_t i = comps.size();
  for (;; --i) {
    char buf[PATH_MAX];
    if (::realpath(Join(comps, i).c_str(), buf) != nullptr) {
      base = buf;
      break;
    }
    if (i == 0) break;
  }
  for (; i < comps.size(); ++i) {
    if (comps[i] == "..") {
      base = ParentPath(base);
    } else {
      base += (base == "/" ? "" : "/") + comps[i];
    }
  }
  return base;
}

namespace {

// One directory given to init, as it is checked and prepared.
struct InitMember {
  std::string path;  // normalized
  DirId id;
  std::unique_ptr<Volume> v;
  bool valid_format = false;  // held a valid cairn volume format before init
  bool had_sys = false;       // held .cairn before init wrote its own
};

// fsync of directory path.
Status SyncDirPath(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return PosixError(path, errno);
  Status s;
  if (::fsync(fd) != 0) s = PosixError(path + ": fsync", errno);
  ::close(fd);
  return s;
}

// Like mkdir -p for a normalized absolute path (the user's own path: symlinks in it are
// followed), recording each directory it made in *created. Each directory made has its parent
// synced, or a power loss right after init could take a member directory away.
Status MakeUserDirs(const std::string& abs, std::vector<std::string>* created) {
  const std::vector<std::string> comps = Components(abs);
  for (size_t i = 1; i <= comps.size(); ++i) {
    const std::string sub = Join(comps, i);
    if (::mkdir(sub.c_str(), 0755) == 0) {
      created->push_back(sub);
      RETURN_IF_ERROR(SyncDirPath(Join(comps, i - 1)));
    } else if (errno != EEXIST) {
      return PosixError(sub, errno);
    }
  }
  return Status::Ok();
}

// Whether one of abs's ancestors (not abs itself) is a member of some volume set; sets *why.
bool InsideAnotherSet(const std::string& abs, std::string* why) {
  for (std::string anc = ParentPath(abs);; anc = ParentPath(anc)) {
    auto f = ReadFormat(*NewLocalVolume(anc));
    if (f.ok()) {
      *why = "is inside " + anc + ", a member of another volume set (set " +
             f->set_id.Hex().substr(0, 8) + "), whose buckets, rb and gc would reach into it";
      return true;
    }
    if (anc == "/") return false;
  }
}

// The checks of InitSet that need every directory to exist. Changes nothing.
Status CheckInitMembers(std::vector<InitMember>& ms, bool force) {
  // Overlap: no member may be an ancestor of another. A member's ancestors are the prefixes of its
  // resolved path; each is compared by device and inode with every member.
  for (const auto& a : ms) {
    for (std::string anc = ParentPath(a.path);; anc = ParentPath(anc)) {
      DirId id;
      if (IdOf(anc, &id) == 0) {
        for (const auto& b : ms) {
          if (&b != &a && b.id == id) {
            return InvalidArgument(a.path + ": is inside " + b.path +
                                   ", another member of this set: members must not overlap");
          }
        }
      }
      if (anc == "/") break;
    }
    std::string why;
    if (InsideAnotherSet(a.path, &why)) return InvalidArgument(a.path + ": " + why);
  }
  for (auto& m : ms) {
    ASSIGN_OR_RETURN(auto entries, m.v->ListDir(""));
    auto fmt = ReadFormat(*m.v);
    m.valid_format = fmt.ok();
    if (!EmptyMember(entries) && !force) {
      if (fmt.ok()) {
        return InvalidArgument(m.path +
                               ": already belongs to a volume set (use --force to reformat)");
      }
      return InvalidArgument(m.path + ": directory is not empty (use --force to format it anyway)");
    }
  }
  return Status::Ok();
}

// With --force: removes what the member's previous cairn format owned, and only that.
Status RemoveOldFormat(InitMember& m) {
  if (!m.valid_format) return Status::Ok();  // nothing here is identified as cairn's
  ASSIGN_OR_RETURN(auto entries, m.v->ListDir(""));
  for (const auto& e : entries) {
    if (!e.is_dir() || !ValidateBucketName(e.name).ok()) continue;
    auto raw = m.v->ReadFile(BucketMetaPath(e.name), kBucketMetaSize);
    if (!raw.ok() || !BucketMeta::DecodeOrLegacy(*raw, nullptr).ok()) continue;
    RETURN_IF_ERROR(m.v->RemoveAll(e.name));
  }
  return m.v->RemoveAll(kSysDir);
}

}  // namespace

Status InitSet(const std::vector<std::string>& dirs, const SetParams& p, bool force) {
  const uint32_t n = uint32_t(dirs.size());
  if (n == 0) return InvalidArgument("init needs at least one directory");
  if (p.k < 1 || p.k + p.m != n) {
    return InvalidArgument("--ec " + std::to_string(p.k) + "+" + std::to_string(p.m) + " needs " +
                           std::to_string(p.k + p.m) + " directories, got " + std::to_string(n));
  }
  if (n > uint32_t(kMaxShards)) return InvalidArgument("at most 32 directories per set");
  if (p.block_size < kMinBlockSize || p.block_size > kMaxBlockSize || p.block_size % 64 != 0) {
    return InvalidArgument("--block-size must be a multiple of 64 between 4 KiB and 64 MiB");
  }
  if (p.inline_limit > kMaxInlineLimit) {
    return InvalidArgument("--inline-limit must be at most 1 MiB");
  }
  std::vector<std::string> paths;
  for (const auto& d : dirs) {
    ASSIGN_OR_RETURN(std::string abs, NormalizeMemberPath(d));
    struct stat st;
    if (::stat(abs.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
      return InvalidArgument(abs + ": exists and is not a directory");
    }
    paths.push_back(std::move(abs));
  }
  // Directories made here are removed again if init fails (rmdir: only while still empty).
  std::vector<std::string> created;
  auto undo = [&created] {
    for (auto it = created.rbegin(); it != created.rend(); ++it) ::rmdir(it->c_str());
  };
  std::vector<InitMember> ms(n);
  for (uint32_t i = 0; i < n; ++i) {
    Status s = MakeUserDirs(paths[i], &created);
    if (!s.ok()) {
      undo();
      return InvalidArgument(paths[i] + ": cannot create the directory: " + s.message());
    }
  }
  // Another init (or a heal formatting a replacement) of these directories waits here, and then
  // sees what this one made.
  DirLocks locks(paths);
  Status s;
  for (uint32_t i = 0; i < n && s.ok(); ++i) {
    InitMember& m = ms[i];
    char real[PATH_MAX];
    if (::realpath(paths[i].c_str(), real) == nullptr) {
      s = InvalidArgument(PosixError(paths[i], errno).message());
      break;
    }
    m.path = real;
    bool is_dir = false;
    if (int e = IdOf(m.path, &m.id, &is_dir); e != 0 || !is_dir) {
      s = InvalidArgument(e != 0 ? PosixError(m.path, e).message()
                                 : m.path + ": exists and is not a directory");
      break;
    }
    for (uint32_t j = 0; j < i; ++j) {
      if (ms[j].id == m.id) {
        s = InvalidArgument(dirs[i] + ": directory given twice (" + ms[j].path + ")");
      }
    }
    m.v = NewLocalVolume(m.path);
  }
  if (s.ok()) s = CheckInitMembers(ms, force);
  if (!s.ok()) {
    undo();
    return s.code() == Code::kInvalidArgument ? s : InvalidArgument(s.message());
  }
  // Everything checked: now change things.
  for (auto& m : ms) {
    if (force) s = RemoveOldFormat(m);
    if (!s.ok()) return s.WithContext("removing the previous format of " + m.path);
    m.had_sys = m.v->Stat(kSysDir).ok();
  }
  VolumeFormat f;
  f.set_id = Uuid::Random();
  f.k = p.k;
  f.m = p.m;
  f.block_size = p.block_size;
  f.inline_limit = p.inline_limit;
  for (uint32_t i = 0; i < n; ++i) f.members.push_back({Uuid::Random(), ms[i].path});
  for (uint32_t i = 0; i < n; ++i) {
    s = FormatMember(*ms[i].v, f, i);
    if (s.ok()) continue;
    // Half a set is no set: take back the formats written so far (and this one's remains).
    for (uint32_t j = 0; j <= i; ++j) {
      if (ms[j].had_sys) {
        ms[j].v->Remove(kFormatPath).IgnoreError();
      } else {
        ms[j].v->RemoveAll(kSysDir).IgnoreError();
      }
      ms[j].v->SyncDir("").IgnoreError();
    }
    undo();
    return s.WithContext(ms[i].path);
  }
  return Status::Ok();
}

const char* MemberRepair::Name(Action a) {
  switch (a) {
    case Action::kFormatted:
      return "formatted";
    case Action::kWouldFormat:
      return "would-format";
    case Action::kRefused:
      return "refused";
    case Action::kMissing:
      return "missing";
  }
  return "refused";
}

Result<std::vector<MemberRepair>> PrepareMembers(const std::vector<std::string>& dirs,
                                                 bool dry_run) {
  ASSIGN_OR_RETURN(FoundSet found, FindSet(dirs));
  const VolumeFormat& ref = found.ref;
  const uint32_t n = ref.k + ref.m;
  // Resolved, so that a symlink to a directory counts as that directory.
  std::vector<std::string> resolved(n);
  for (uint32_t i = 0; i < n; ++i) {
    auto p = NormalizeMemberPath(found.member_paths[i]);
    resolved[i] = p.ok() ? *p : found.member_paths[i];
  }
  // Another heal examining or formatting these members waits here, then finds them formatted.
  DirLocks locks(resolved);
  // Look at every member before touching any, so a refusal elsewhere or a missing quorum leaves
  // every directory as it was.
  std::vector<MemberRepair> out;
  std::vector<size_t> replacements;  // into out
  uint32_t valid = 0;
  for (uint32_t i = 0; i < n; ++i) {
    MemberRepair r;
    r.position = i;
    r.path = found.member_paths[i];
    auto refuse = [&](std::string why) {
      r.action = MemberRepair::Action::kRefused;
      r.why = std::move(why);
      out.push_back(r);
    };
    auto replace = [&] {
      r.action = dry_run ? MemberRepair::Action::kWouldFormat : MemberRepair::Action::kFormatted;
      replacements.push_back(out.size());
      out.push_back(r);
    };
    auto v = NewLocalVolume(resolved[i]);
    auto st = v->Stat("");
    if (!st.ok() && st.status().code() == Code::kNotFound) {
      // Not created here: a disk that failed to mount would otherwise be replaced by a directory
      // on whatever file system holds the mount point.
      r.action = MemberRepair::Action::kMissing;
      r.why = "does not exist; create it (on the replacement disk) and run heal again";
      out.push_back(r);
      continue;
    }
    if (!st.ok()) {
      refuse("cannot be examined: " + st.status().message());
      continue;
    }
    if (!st->is_dir()) {
      refuse("exists but is not a directory");
      continue;
    }
    auto f = ReadFormat(*v);
    if (f.ok()) {
      if (IsMemberFormat(*f, ref, i)) {
        ++valid;
      } else {
        refuse(ForeignFormatWhy(*f, ref, i));
      }
      continue;
    }
    auto entries = v->ListDir("");
    if (!entries.ok()) {
      refuse("cannot be listed: " + entries.status().message());
      continue;
    }
    if (EmptyMember(*entries)) {
      replace();
    } else {
      refuse("not empty and has no valid cairn format file; empty it to use it as a replacement");
    }
  }
  // A replacement's identity comes from the other members' format files: only a read quorum of
  // them is enough to trust that they describe the set as it is.
  const uint32_t quorum = std::max(ref.k, n - WriteQuorum(ref.k, ref.m) + 1);
  if (valid < quorum) {
    return QuorumError("found " + std::to_string(valid) + " member(s) of the volume set with a " +
                       "valid format file, need at least " + std::to_string(quorum) +
                       " (the read quorum of " + std::to_string(ref.k) + "+" +
                       std::to_string(ref.m) + ") to restore the others; nothing was changed");
  }
  if (dry_run) return out;
  for (size_t index : replacements) {
    const MemberRepair& r = out[index];
    std::string where = MemberName(r.position) + " (" + r.path + ")";
    auto v = NewLocalVolume(resolved[r.position]);
    Status s = FormatMember(*v, ref, r.position, Clock::Real()->NowNs());
    if (!s.ok()) return s.WithContext(where);
  }
  return out;
}

Result<OpenedSet> OpenSet(const std::vector<std::string>& dirs) {
  ASSIGN_OR_RETURN(FoundSet found, FindSet(dirs));
  OpenedSet out;
  const VolumeFormat& ref = found.ref;
  const uint32_t n = ref.k + ref.m;
  std::vector<Volume*> vols(n, nullptr);
  out.member_paths = found.member_paths;
  for (const auto& path : found.foreign) {
    out.warnings.push_back(path + " belongs to another volume set: ignored");
  }
  for (uint32_t i = 0; i < n; ++i) {
    const std::string& path = out.member_paths[i];
    auto v = WithKillPoint(NewLocalVolume(path));
    auto f = ReadFormat(*v);
    if (!f.ok()) {
      out.warnings.push_back("member " + std::to_string(i + 1) + " (" + path +
                             ") is offline: " + f.status().message());
      continue;
    }
    if (!IsMemberFormat(*f, ref, i)) {
      out.warnings.push_back("member " + std::to_string(i + 1) + " (" + path +
                             ") belongs to another set or position: treated as offline");
      continue;
    }
    // Make sure the working directories exist (they may have been removed by hand). Every PUT
    // renames out of the temp directory: the volume keeps it open.
    v->MakeDirs(kTmpDir).IgnoreError();
    v->MakeDirs(kMrfDir).IgnoreError();
    v->PinDir(kTmpDir);
    vols[i] = v.get();
    out.owned.push_back(std::move(v));
  }
  // The commit locks live on the first online member whose .cairn/locks is a real directory
  // (MakeDirs refuses a symlink there, so the lock files are never made through one).
  std::string lock_dir;
  for (uint32_t i = 0; i < n; ++i) {
    if (vols[i] == nullptr) continue;
    if (vols[i]->MakeDirs(std::string(kSysDir) + "/locks").ok()) {
      lock_dir = vols[i]->Describe() + "/" + kSysDir + "/locks";
      break;
    }
  }
  SetParams p;
  p.k = ref.k;
  p.m = ref.m;
  p.block_size = ref.block_size;
  p.inline_limit = ref.inline_limit;
  auto set = ErasureSet::Open(vols, p, lock_dir);
  if (!set.ok()) {
    std::string why = set.status().message();
    for (const auto& w : out.warnings) why += "; " + w;
    return Status(set.status().code(), "volume set below quorum: " + why);
  }
  out.set = std::move(set).value();
  out.format = ref;
  return out;
}

}  // namespace cairn
