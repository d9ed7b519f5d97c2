#include "libstore/volume/volume.h"

#include <sys/random.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace cairn {

Status WriteAllV(int fd, const ConstBuf* bufs, int n, const std::string& name) {
  constexpr int kMaxIov = 64;
  iovec iov[kMaxIov];
  int i = 0;
  size_t skip = 0;  // bytes of bufs[i] already written
  while (i < n) {
    int cnt = 0;
    for (int j = i; j < n && cnt < kMaxIov; ++j, ++cnt) {
      const size_t off = j == i ? skip : 0;
      iov[cnt].iov_base = const_cast<char*>(static_cast<const char*>(bufs[j].data) + off);
      iov[cnt].iov_len = bufs[j].size - off;
    }
    const ssize_t w = ::writev(fd, iov, cnt);
    if (w < 0) {
      if (errno == EINTR) continue;
      return PosixError(name + ": write", errno);
    }
    size_t left = size_t(w);
    while (i < n && left >= bufs[i].size - skip) {
      left -= bufs[i].size - skip;
      skip = 0;
      ++i;
    }
    skip += left;
  }
  return Status::Ok();
}

Status Volume::RenameAndStat(const std::string& from, const std::string& to,
                             std::optional<FileInfo>* after) {
  RETURN_IF_ERROR(Rename(from, to));
  if (auto st = Stat(to); st.ok()) *after = *st;
  return Status::Ok();
}

std::string TempName(std::string_view dir, std::string_view suffix) {
  uint8_t b[16];
  size_t got = 0;
  while (got < sizeof(b)) {
    ssize_t r = ::getrandom(b + got, sizeof(b) - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) std::abort();  // the kernel's entropy source is gone: nothing can be unique
    got += size_t(r);
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out(dir);
  if (!out.empty()) out += '/';
  for (uint8_t c : b) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  out += suffix;
  return out;
}

const char* FileKindName(FileKind k) {
  switch (k) {
    case FileKind::kFile:
      return "file";
    case FileKind::kDir:
      return "directory";
    case FileKind::kSymlink:
      return "symlink";
    case FileKind::kOther:
      return "special file";
  }
  return "special file";
}

std::string ParentDir(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(path.substr(0, slash));
}

std::string BaseName(std::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  std::string out;
  out.reserve(dir.size() + 1 + name.size());
  out.append(dir).append("/").append(name);
  return out;
}

Status SyncDirOrAncestor(Volume& v, std::string path) {
  for (;;) {
    Status s = v.SyncDir(path);
    if (s.code() != Code::kNotFound || path.empty()) return s;
    path = ParentDir(path);
  }
}

Status ReplaceFile(Volume& v, const std::string& path, std::string_view data,
                   std::string_view tmp_dir) {
  const std::string tmp = TempName(tmp_dir, ".new");
  Status s = v.WriteFile(tmp, data, /*sync=*/true);
  if (s.ok()) s = v.Rename(tmp, path);
  if (!s.ok()) {
    v.Remove(tmp).IgnoreError();
    return s;
  }
  return v.SyncDir(ParentDir(path));
}

Status ValidateRelPath(std::string_view path) {
  if (path.empty()) return InvalidArgument("empty path");
  if (path.size() > kMaxRelPathLen) return InvalidArgument("path longer than 4096 bytes");
  if (path.front() == '/')
    return InvalidArgument("absolute path not allowed: " + std::string(path));
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view comp = path.substr(start, end - start);
    if (comp.empty() || comp == "." || comp == "..") {
      return InvalidArgument("path component empty, '.' or '..' not allowed: " + std::string(path));
    }
    if (comp.size() > 255) return InvalidArgument("path component longer than 255 bytes");
    if (comp.find('\0') != std::string_view::npos) return InvalidArgument("path contains NUL");
    start = end + 1;
  }
  return Status::Ok();
}

Result<std::string> Volume::ReadFile(const std::string& path, size_t max_size) {
  ASSIGN_OR_RETURN(auto file, NewReadableFile(path));
  ASSIGN_OR_RETURN(uint64_t size, file->Size());
  if (size > max_size) {
    return Corruption(Describe() + "/" + path + ": file larger than " + std::to_string(max_size));
  }
  std::string out(size, '\0');
  ASSIGN_OR_RETURN(size_t n, file->ReadAt(0, out.data(), size));
  out.resize(n);
  return out;
}

Status Volume::WriteFile(const std::string& path, std::string_view data, bool sync) {
  ASSIGN_OR_RETURN(auto file, NewWritableFile(path));
  RETURN_IF_ERROR(file->Append(data.data(), data.size()));
  if (sync) RETURN_IF_ERROR(file->Sync());
  return file->Close();
}

Status Volume::RenameNoReplace(const std::string& from, const std::string& to) {
  RETURN_IF_ERROR(ValidateRelPath(from));
  RETURN_IF_ERROR(ValidateRelPath(to));  // Stat would take "" (the root)
  auto st = Stat(to);
  if (st.ok())
    return AlreadyExists(Describe() + ": rename " + from + " -> " + to + ": " + to + " exists");
  if (st.status().code() != Code::kNotFound) return st.status();
  return Rename(from, to);
}

Status Volume::RemoveAll(const std::string& path) {
  RETURN_IF_ERROR(ValidateRelPath(path));  // never the root itself
  auto st = Stat(path);
  if (!st.ok()) return st.status().code() == Code::kNotFound ? Status::Ok() : st.status();
  if (!st->is_dir()) {  // a file, or a symlink (removed itself, never followed)
    Status s = Remove(path);
    return s.code() == Code::kNotFound ? Status::Ok() : s;
  }
  ASSIGN_OR_RETURN(auto entries, ListDir(path));
  for (const auto& e : entries) RETURN_IF_ERROR(RemoveAll(path + "/" + e.name));
  Status s = RemoveDir(path);
  return s.code() == Code::kNotFound ? Status::Ok() : s;
}

}  // namespace cairn

namespace cairn {

Result<uint64_t> WritableFile::AppendFrom(ReadableFile& src, uint64_t offset, uint64_t len) {
  constexpr size_t kChunk = 256 << 10;  // a syscall per 256 KiB at least (PERFORMANCE.md)
  std::unique_ptr<char[]> buf(new char[size_t(std::min<uint64_t>(len, kChunk)) + 1]);
  uint64_t done = 0;
  while (done < len) {
    size_t want = size_t(std::min<uint64_t>(len - done, kChunk));
    ASSIGN_OR_RETURN(size_t got, src.ReadAt(offset + done, buf.get(), want));
    if (got == 0) break;
    RETURN_IF_ERROR(Append(buf.get(), got));
    done += got;
    if (got < want) break;
  }
  return done;
}

Result<FileInfo> WritableFile::StatOpen() {
  return Status(Code::kInternal, "this file cannot describe itself");
}

Result<FileInfo> ReadableFile::StatOpen() {
  ASSIGN_OR_RETURN(uint64_t size, Size());
  FileInfo fi;
  fi.size = size;
  return fi;
}

Result<std::vector<StatEntry>> Volume::ListDirStat(const std::string& path) {
  ASSIGN_OR_RETURN(auto entries, ListDir(path));
  std::vector<StatEntry> out;
  out.reserve(entries.size());
  for (auto& e : entries) {
    auto st = Stat(path.empty() ? e.name : path + "/" + e.name);
    if (!st.ok()) {
      if (st.status().code() == Code::kNotFound) continue;  // removed meanwhile
      return st.status();
    }
    out.push_back(StatEntry{std::move(e.name), *st});
  }
  return out;
}

}  // namespace cairn
