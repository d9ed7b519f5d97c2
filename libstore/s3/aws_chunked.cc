#include "libstore/s3/aws_chunked.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "libstore/s3/sigv4_canonical.h"

namespace cairn::s3 {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kSigPrefix = ";chunk-signature=";
constexpr std::string_view kTrailerSigName = "x-amz-trailer-signature";

void HexInto(const uint8_t d[32], char out[64]) {
  for (size_t i = 0; i < 32; ++i) {
    out[2 * i] = kHex[d[i] >> 4];
    out[2 * i + 1] = kHex[d[i] & 15];
  }
}

// Appends the 64 hex digits of a 32-byte digest (one append, not 64 push_backs).
void AppendHex32(const uint8_t d[32], std::string* out) {
  char hex[64];
  HexInto(d, hex);
  out->append(hex, 64);
}

// HMAC(key, <kind> "\n" date "\n" scope "\n" prev "\n" [SHA-256("") "\n"] hex(hash)).
void SignPiece(const SigningContext& c, std::string_view kind, std::string_view prev,
               bool empty_hash_line, const uint8_t hash[32], std::string* sts, uint8_t out[32]) {
  sts->clear();
  sts->append(kind).append("\n");
  sts->append(c.date()).append("\n");
  sts->append(c.scope).append("\n");
  sts->append(prev).append("\n");
  if (empty_hash_line) sts->append(kEmptySha256Hex).append("\n");
  AppendHex32(hash, sts);
  HmacSha256(c.key.data(), 32, sts->data(), sts->size(), out);
}

bool ValidTrailerName(std::string_view n) {
  if (n.empty() || n.size() > 128) return false;
  for (char c : n) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

bool ValidTrailerValue(std::string_view v) {
  for (unsigned char c : v) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

}  // namespace

AwsChunkedDecoder::AwsChunkedDecoder(Options opts) : opts_(std::move(opts)) {
  line_.reserve(opts_.limits.max_line + 2);
  sts_.reserve(256);
  std::memcpy(prev_sig_.data(), opts_.signing.seed_signature.data(), 64);
  if (!IsStreaming(opts_.mode)) {
    Fail(InvalidArgument("aws-chunked decoding needs a STREAMING-* payload mode")).IgnoreError();
    return;
  }
  // x-amz-trailer: comma-separated names; only the trailer modes may declare any.
  std::string_view d = opts_.declared_trailers;
  while (!d.empty()) {
    size_t comma = d.find(',');
    std::string_view name = TrimSpaces(d.substr(0, comma));
    d = comma == std::string_view::npos ? std::string_view() : d.substr(comma + 1);
    if (name.empty()) continue;
    if (!ValidTrailerName(name) || declared_.size() >= opts_.limits.max_trailers) {
      Fail(InvalidArgument("x-amz-trailer is malformed")).IgnoreError();
      return;
    }
    std::string n(name);
    for (char& c : n) c = Lower(c);
    declared_.push_back(std::move(n));
  }
  if (!declared_.empty() && !HasTrailer()) {
    Fail(InvalidArgument("x-amz-trailer needs a STREAMING-*-TRAILER payload")).IgnoreError();
  }
}

bool AwsChunkedDecoder::Signed() const {
  return opts_.mode == PayloadMode::kStreamingSigned ||
         opts_.mode == PayloadMode::kStreamingSignedTrailer;
}

bool AwsChunkedDecoder::HasTrailer() const {
  return opts_.mode == PayloadMode::kStreamingUnsignedTrailer ||
         opts_.mode == PayloadMode::kStreamingSignedTrailer;
}

Status AwsChunkedDecoder::Fail(Status st) {
  state_ = State::kFailed;
  error_ = st;
  return st;
}

Status AwsChunkedDecoder::OnHeaderLine(std::string_view line) {
  size_t digits = 0;
  uint64_t size = 0;
  while (digits < line.size()) {
    char c = line[digits];
    int v = c >= '0' && c <= '9'     ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                     : -1;
    if (v < 0) break;
    if (digits == 16) return Fail(InvalidArgument("aws-chunked: chunk size too long"));
    size = size * 16 + uint64_t(v);
    ++digits;
  }
  if (digits == 0) return Fail(InvalidArgument("aws-chunked: a chunk header needs a hex size"));
  if (size > opts_.limits.max_chunk_size) {
    return Fail(InvalidArgument("aws-chunked: chunk of " + std::to_string(size) +
                                " bytes is above the limit of " +
                                std::to_string(opts_.limits.max_chunk_size)));
  }
  if (opts_.decoded_length >= 0 && size > uint64_t(opts_.decoded_length) - decoded_) {
    // Refused before any of it is handed out, however the body is split.
    return Fail(
        Status(Code::kIncompleteBody, "aws-chunked: more data than x-amz-decoded-content-length (" +
                                          std::to_string(opts_.decoded_length) + ")"));
  }
  std::string_view rest = line.substr(digits);
  if (Signed()) {
    if (!rest.starts_with(kSigPrefix) ||
        !DecodeHex32(rest.substr(kSigPrefix.size()), expected_sig_.data())) {
      return Fail(InvalidArgument("aws-chunked: a chunk header needs ;chunk-signature=<64 hex>"));
    }
  } else if (!rest.empty()) {
    return Fail(InvalidArgument("aws-chunked: unexpected chunk extension"));
  }
  chunk_sha_.Reset();
  remaining_ = size;
  last_chunk_ = size == 0;
  if (size == 0) {
    RETURN_IF_ERROR(EndOfChunk());
    state_ = State::kTrailer;
  } else {
    state_ = State::kData;
  }
  return Status::Ok();
}

Status AwsChunkedDecoder::EndOfChunk() {
  if (!Signed()) return Status::Ok();
  uint8_t hash[32], sig[32];
  chunk_sha_.Final(hash);
  SignPiece(opts_.signing, "AWS4-HMAC-SHA256-PAYLOAD", {prev_sig_.data(), 64}, true, hash, &sts_,
            sig);
  if (!ConstantTimeEqual(sig, expected_sig_.data(), 32)) {
    return Fail(Status(Code::kSignatureMismatch,
                       "aws-chunked: a chunk signature does not match (chunk ending at decoded "
                       "byte " +
                           std::to_string(decoded_) + ")"));
  }
  HexInto(sig, prev_sig_.data());
  return Status::Ok();
}

Status AwsChunkedDecoder::OnTrailerLine(std::string_view line) {
  if (line.empty()) {
    if (opts_.mode == PayloadMode::kStreamingSignedTrailer && !trailer_signed_) {
      return Fail(Status(Code::kSignatureMismatch, "aws-chunked: x-amz-trailer-signature missing"));
    }
    for (const std::string& d : declared_) {
      bool found = false;
      for (const Trailer& t : trailers_) found = found || t.name == d;
      if (!found) {
        return Fail(
            InvalidArgument("aws-chunked: trailer " + d + " named by x-amz-trailer was not sent"));
      }
    }
    state_ = State::kDone;
    if (opts_.decoded_length >= 0 && decoded_ != uint64_t(opts_.decoded_length)) {
      return Fail(Status(Code::kIncompleteBody, "aws-chunked: decoded " + std::to_string(decoded_) +
                                                    " bytes, x-amz-decoded-content-length says " +
                                                    std::to_string(opts_.decoded_length)));
    }
    return Status::Ok();
  }
  if (trailer_signed_) {
    return Fail(InvalidArgument("aws-chunked: a trailer after x-amz-trailer-signature"));
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || !ValidTrailerName(line.substr(0, colon))) {
    return Fail(InvalidArgument("aws-chunked: malformed trailer line"));
  }
  std::string_view value = TrimSpaces(line.substr(colon + 1));
  if (!ValidTrailerValue(value)) return Fail(InvalidArgument("aws-chunked: bad trailer value"));
  std::string name(line.substr(0, colon));  // short: within the line limit
  for (char& c : name) c = Lower(c);
  if (name == kTrailerSigName && opts_.mode == PayloadMode::kStreamingSignedTrailer) {
    uint8_t claimed[32], hash[32], sig[32];
    if (!DecodeHex32(value, claimed)) {
      return Fail(InvalidArgument("aws-chunked: malformed x-amz-trailer-signature"));
    }
    // The trailers as signed: "name:value\n" each, in the order received.
    Sha256(trailer_buf_.data(), trailer_buf_.size(), hash);
    SignPiece(opts_.signing, "AWS4-HMAC-SHA256-TRAILER", {prev_sig_.data(), 64}, false, hash, &sts_,
              sig);
    if (!ConstantTimeEqual(sig, claimed, 32)) {
      return Fail(
          Status(Code::kSignatureMismatch, "aws-chunked: the trailer signature does not match"));
    }
    trailer_signed_ = true;
    return Status::Ok();
  }
  bool declared = false;
  for (const std::string& d : declared_) declared = declared || d == name;
  if (!declared) {
    return Fail(InvalidArgument("aws-chunked: trailer " + name.substr(0, 128) +
                                " was not declared in x-amz-trailer"));
  }
  for (const Trailer& t : trailers_) {
    if (t.name == name)
      return Fail(InvalidArgument("aws-chunked: trailer " + name + " sent twice"));
  }
  if (trailers_.size() >= opts_.limits.max_trailers ||
      trailer_buf_.size() + name.size() + value.size() + 2 > opts_.limits.max_trailer_bytes) {
    return Fail(InvalidArgument("aws-chunked: trailers above the limit"));
  }
  // trailer_buf_ is reserved before the first trailer is appended and never grows past that
  // capacity, so the views stay valid.
  if (trailer_buf_.empty()) {
    trailer_buf_.reserve(opts_.limits.max_trailer_bytes);
    trailers_.reserve(opts_.limits.max_trailers);
  }
  const size_t at = trailer_buf_.size();
  trailer_buf_.append(name).append(":").append(value).append("\n");
  const char* p = trailer_buf_.data() + at;
  trailers_.push_back({{p, name.size()}, {p + name.size() + 1, value.size()}});
  return Status::Ok();
}

Status AwsChunkedDecoder::Next(std::string_view in, size_t* consumed, std::string_view* data) {
  *consumed = 0;
  *data = {};
  if (state_ == State::kFailed) return error_;
  size_t i = 0;
  while (i < in.size()) {
    switch (state_) {
      case State::kHeader:
      case State::kTrailer: {
        // Gather a line up to its CRLF; a line split between pushes continues in line_.
        size_t nl = in.find('\n', i);
        size_t end = nl == std::string_view::npos ? in.size() : nl;
        if (line_.size() + (end - i) > opts_.limits.max_line + 1) {
          return Fail(
              InvalidArgument("aws-chunked: a chunk header or trailer line is longer than " +
                              std::to_string(opts_.limits.max_line) + " bytes"));
        }
        line_.append(in.substr(i, end - i));
        i = end;
        if (nl == std::string_view::npos) break;
        ++i;  // the '\n'
        if (line_.empty() || line_.back() != '\r') {
          return Fail(InvalidArgument("aws-chunked: a line must end with CRLF"));
        }
        line_.pop_back();
        Status st = state_ == State::kHeader ? OnHeaderLine(line_) : OnTrailerLine(line_);
        line_.clear();
        if (!st.ok()) return st;
        break;
      }
      case State::kData: {
        const size_t n = size_t(std::min<uint64_t>(remaining_, in.size() - i));
        *data = in.substr(i, n);
        if (Signed()) chunk_sha_.Update(data->data(), n);
        decoded_ += n;
        remaining_ -= n;
        i += n;
        if (remaining_ == 0) {
          Status st = EndOfChunk();
          if (!st.ok()) {
            *data = {};
            return st;
          }
          state_ = State::kDataEnd;
        }
        *consumed = i;
        return Status::Ok();  // hand the data out before reading further
      }
      case State::kDataEnd: {
        // "\r\n" after the data, possibly split; line_ holds what came of it so far.
        line_.push_back(in[i++]);
        if (line_.size() == 2) {
          if (line_ != "\r\n")
            return Fail(InvalidArgument("aws-chunked: chunk data not followed by CRLF"));
          line_.clear();
          state_ = State::kHeader;
        } else if (line_[0] != '\r') {
          return Fail(InvalidArgument("aws-chunked: chunk data not followed by CRLF"));
        }
        break;
      }
      case State::kDone:
        return Fail(InvalidArgument("aws-chunked: data after the end of the body"));
      case State::kFailed:
        return error_;
    }
  }
  *consumed = i;
  return Status::Ok();
}

Status AwsChunkedDecoder::Finish() {
  if (state_ == State::kFailed) return error_;
  if (state_ != State::kDone) {
    return Fail(Status(Code::kIncompleteBody,
                       "aws-chunked: the body ended before its final chunk and trailers (" +
                           std::to_string(decoded_) + " bytes decoded)"));
  }
  return Status::Ok();
}

AwsChunkedEncoder::AwsChunkedEncoder(PayloadMode mode, SigningContext signing)
    : mode_(mode), signing_(std::move(signing)) {
  std::memcpy(prev_sig_.data(), signing_.seed_signature.data(), 64);
  buf_.reserve(256);
  sts_.reserve(256);
}

void AwsChunkedEncoder::SignChunk(std::string_view data, char out_hex[64]) {
  uint8_t hash[32], sig[32];
  Sha256(data.data(), data.size(), hash);
  SignPiece(signing_, "AWS4-HMAC-SHA256-PAYLOAD", {prev_sig_.data(), 64}, true, hash, &sts_, sig);
  HexInto(sig, prev_sig_.data());
  std::memcpy(out_hex, prev_sig_.data(), 64);
}

std::string_view AwsChunkedEncoder::ChunkHeader(std::string_view data) {
  buf_.clear();
  char hex[17];
  int n = std::snprintf(hex, sizeof(hex), "%zx", data.size());
  buf_.append(hex, size_t(n));
  if (mode_ == PayloadMode::kStreamingSigned || mode_ == PayloadMode::kStreamingSignedTrailer) {
    char sig[64];
    SignChunk(data, sig);
    buf_.append(kSigPrefix).append(sig, 64);
  }
  buf_.append("\r\n");
  return buf_;
}

void AwsChunkedEncoder::AppendChunk(std::string_view data, std::string* out) {
  out->append(ChunkHeader(data));
  out->append(data);
  out->append(kChunkEnd);
}

Result<std::string_view> AwsChunkedEncoder::Final(std::span<const Trailer> trailers) {
  const bool has_trailer = mode_ == PayloadMode::kStreamingUnsignedTrailer ||
                           mode_ == PayloadMode::kStreamingSignedTrailer;
  if (!has_trailer && !trailers.empty()) {
    return InvalidArgument("trailers need a STREAMING-*-TRAILER payload");
  }
  std::string canonical;
  for (const Trailer& t : trailers) {
    if (!ValidTrailerName(t.name) || !ValidTrailerValue(t.value) ||
        TrimSpaces(t.value) != t.value) {
      return InvalidArgument("a trailer cannot be framed: " + std::string(t.name));
    }
    std::string name(t.name);
    for (char& c : name) c = Lower(c);
    canonical.append(name).append(":").append(t.value).append("\n");
  }
  buf_.clear();
  buf_.append("0");
  if (mode_ == PayloadMode::kStreamingSigned || mode_ == PayloadMode::kStreamingSignedTrailer) {
    char sig[64];
    SignChunk({}, sig);
    buf_.append(kSigPrefix).append(sig, 64);
  }
  buf_.append("\r\n");
  for (size_t pos = 0; pos < canonical.size();) {
    size_t nl = canonical.find('\n', pos);
    buf_.append(canonical, pos, nl - pos).append("\r\n");
    pos = nl + 1;
  }
  if (mode_ == PayloadMode::kStreamingSignedTrailer) {
    uint8_t hash[32], sig[32];
    Sha256(canonical.data(), canonical.size(), hash);
    SignPiece(signing_, "AWS4-HMAC-SHA256-TRAILER", {prev_sig_.data(), 64}, false, hash, &sts_,
              sig);
    buf_.append(kTrailerSigName).append(":");
    AppendHex32(sig, &buf_);
    buf_.append("\r\n");
  }
  buf_.append("\r\n");
  return std::string_view(buf_);
}

uint64_t AwsChunkedEncoder::EncodedLength(PayloadMode mode, uint64_t decoded, uint64_t chunk_size,
                                          std::span<const Trailer> trailers) {
  const bool sig =
      mode == PayloadMode::kStreamingSigned || mode == PayloadMode::kStreamingSignedTrailer;
  auto hex_len = [](uint64_t n) {
    uint64_t l = 1;
    while (n >= 16) n /= 16, ++l;
    return l;
  };
  auto chunk = [&](uint64_t n) {
    return hex_len(n) + (sig ? kSigPrefix.size() + 64 : 0) + 2 + n + 2;
  };
  uint64_t total = 0;
  if (chunk_size == 0) chunk_size = decoded ? decoded : 1;
  total += (decoded / chunk_size) * chunk(chunk_size);
  if (decoded % chunk_size) total += chunk(decoded % chunk_size);
  total += 1 + (sig ? kSigPrefix.size() + 64 : 0) + 2;  // the zero-size chunk's header
  for (const Trailer& t : trailers) total += t.name.size() + 1 + t.value.size() + 2;
  if (mode == PayloadMode::kStreamingSignedTrailer) total += kTrailerSigName.size() + 1 + 64 + 2;
  return total + 2;
}

}  // namespace cairn::s3
