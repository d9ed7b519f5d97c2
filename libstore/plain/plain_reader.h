// PlainDir's opened object and its reader, shared by plain_read.cc and plain_copy.cc; not an API.
#pragma once

#include <algorithm>
#include <memory>
#include <optional>

#include "libstore/common/hash.h"
#include "libstore/plain/plain_dir.h"
#include "libstore/plain/plain_internal.h"

namespace cairn {

struct PlainDir::Opened {
  std::unique_ptr<ReadableFile> file;  // nullptr for a folder marker or a HEAD
  FileStamp stamp;
  bool md5_known = false;
  ObjectInfo info;
};

// Reads the range from the file opened by OpenObject (never by name again). When the range is
// the whole file and its MD5 is not known, hashes the bytes as they go and records the MD5 once
// the last one is read, if the open file's stamp is still the one described.
class PlainDir::Reader : public ObjectReader {
 public:
  Reader(PlainDir* store, Opened o, ByteRange range)
      : ObjectReader(std::move(o.info), range),
        store_(store),
        file_(std::move(o.file)),
        stamp_(o.stamp),
        hash_(!range.partial && !o.md5_known && file_ != nullptr),
        pos_(range.first),
        end_(range.first + range.length) {
    if (hash_) md5_.emplace();  // only when hashing: a digest context costs an allocation
  }

  Result<size_t> Read(void* buf, size_t n) override {
    RETURN_IF_ERROR(error_);
    if (pos_ == end_ || n == 0) {
      Finish();
      return size_t(0);
    }
    const size_t want = size_t(std::min<uint64_t>(n, end_ - pos_));
    auto got = file_->ReadAt(pos_, buf, want);
    if (!got.ok()) return error_ = got.status();
    if (*got == 0) {
      return error_ = Status(Code::kIOError, store_->vol_->Describe() + "/" + info_.bucket + "/" +
                                                 info_.key + ": the file shrank while it was read")
                          .WithRetryable();
    }
    if (hash_) md5_->Update(buf, *got);
    pos_ += *got;
    if (pos_ == end_) Finish();
    return *got;
  }

  // Through this thread's I/O buffer: no allocation per GET.
  Status WriteTo(Sink& sink) override {
    char* buf = plain::IoBuffer();
    while (true) {
      ASSIGN_OR_RETURN(size_t got, Read(buf, plain::kIoBufferSize));
      if (got == 0) return Status::Ok();
      RETURN_IF_ERROR(sink.Write(buf, got));
    }
  }

  std::optional<FileRange> ZeroCopy() override {
    if (file_ == nullptr || file_->NativeFd() < 0) return std::nullopt;
    hash_ = false;  // the bytes will not pass through here
    return FileRange{file_->NativeFd(), range_.first, range_.length};
  }

 private:
  void Finish() {
    if (!hash_) return;
    hash_ = false;
    // Recorded only if the file is still what it was when it was opened: then these bytes were it.
    auto now = file_->StatOpen();
    if (!now.ok() || !(FileStamp::Of(*now) == stamp_)) return;
    std::string hex = md5_->FinalHex();
    if (store_->meta_->SetMd5(info_.bucket, info_.key, stamp_, hex).ok()) info_.etag = hex;
  }

  PlainDir* store_;
  std::unique_ptr<ReadableFile> file_;
  FileStamp stamp_;
  bool hash_;
  std::optional<Md5Stream> md5_;
  uint64_t pos_, end_;
  Status error_;
};

}  // namespace cairn
