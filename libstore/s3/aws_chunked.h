// aws-chunked: the body framing of x-amz-content-sha256 STREAMING-AWS4-HMAC-SHA256-PAYLOAD,
// STREAMING-UNSIGNED-PAYLOAD-TRAILER and STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER.
//
//   signed:            <hex size>;chunk-signature=<64 hex>\r\n <data> \r\n ...
//   0;chunk-signature=<sig>\r\n unsigned trailer:  <hex size>\r\n <data> \r\n ... 0\r\n
// then trailer lines `name:value\r\n` (signed-trailer mode: ending with
// `x-amz-trailer-signature:<64 hex>\r\n`), then `\r\n`.
//
// Chunk signatures chain from the request's seed signature (SigningContext): chunk n's is
// HMAC(signing key, "AWS4-HMAC-SHA256-PAYLOAD\n" date "\n" scope "\n" <signature of chunk n-1>
// "\n" SHA-256("") "\n" SHA-256(chunk data)), the final zero-size chunk included; the trailer's is
// HMAC(key, "AWS4-HMAC-SHA256-TRAILER\n" date "\n" scope "\n" <final chunk's signature> "\n"
// SHA-256(the trailers as "name:value\n" each, in the order sent)).
//
// IMPORTANT, the contract of the decoder: decoded bytes are handed out as they arrive, before the
// signature of their chunk (and before the trailer, with its checksum, and the trailer signature)
// is known. A store must therefore commit nothing until Finish() returns OK: Finish() is OK only
// when the whole body arrived, every chunk and trailer signature verified, every trailer named by
// x-amz-trailer was sent, nothing followed the end, and the decoded length equals
// x-amz-decoded-content-length. Any earlier error is sticky: every later call returns it.
//
// Errors: a bad chunk or trailer signature -> kSignatureMismatch; framing that breaks the grammar
// or a limit (line length, chunk size, trailer size and count), an undeclared or missing trailer,
// bytes after the end -> kInvalidArgument; a body that ends early, or decodes to more or fewer
// bytes than x-amz-decoded-content-length -> kIncompleteBody.
//
// Allocation: buffers sized by the limits are reserved at construction (the trailers' when the
// first trailer arrives: most bodies have none); nothing is allocated per chunk. Chunk data is
// hashed as it streams, never buffered.
// Thread safety: one decoder or encoder per body; not thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "libstore/common/hash.h"
#include "libstore/common/status.h"
#include "libstore/s3/sigv4.h"

namespace cairn::s3 {

struct ChunkedLimits {
  size_t max_line = 1024;                 // a chunk header or trailer line, without its CRLF
  uint64_t max_chunk_size = 16ull << 20;  // one chunk's data
  size_t max_trailer_bytes = 8192;        // all trailer lines together
  size_t max_trailers = 16;               // trailer lines (the signature line not counted)
};

// A trailing header: name lowercase, value with surrounding whitespace removed.
struct Trailer {
  std::string_view name;
  std::string_view value;
};

class AwsChunkedDecoder {
 public:
  struct Options {
    PayloadMode mode = PayloadMode::kStreamingSigned;  // one of the three streaming modes
    SigningContext signing;                            // the signed modes: from AuthResult::signing
    int64_t decoded_length = -1;    // x-amz-decoded-content-length; -1: not checked
    std::string declared_trailers;  // x-amz-trailer (comma-separated names)
    ChunkedLimits limits;
  };
  explicit AwsChunkedDecoder(Options opts);
  // Not copyable: trailers() points into the decoder's own buffer.
  AwsChunkedDecoder(const AwsChunkedDecoder&) = delete;
  AwsChunkedDecoder& operator=(const AwsChunkedDecoder&) = delete;

  // Decodes a prefix of `in`: *consumed says how many bytes were used (all of them unless an error
  // occurs or data was found) and *data the decoded bytes found (a span of `in`, maybe empty).
  // Call again with the rest of `in` until it is consumed.
  Status Next(std::string_view in, size_t* consumed, std::string_view* data);

  // Decodes all of `in`, calling out(span) for each run of decoded data (spans of `in`); stops at
  // the first error, from the decoder or from out.
  template <typename Fn>
  Status Push(std::string_view in, Fn&& out) {
    while (!in.empty()) {
      size_t used = 0;
      std::string_view data;
      RETURN_IF_ERROR(Next(in, &used, &data));
      if (!data.empty()) RETURN_IF_ERROR(out(data));
      in.remove_prefix(used);
    }
    return Status::Ok();
  }

  // Call at the end of the body. See the contract above.
  Status Finish();

  // The trailers received (valid after Finish() is OK, until the decoder is destroyed).
  std::span<const Trailer> trailers() const { return {trailers_.data(), trailers_.size()}; }
  uint64_t decoded_bytes() const { return decoded_; }

 private:
  enum class State { kHeader, kData, kDataEnd, kTrailer, kDone, kFailed };
  Status Fail(Status st);
  Status OnHeaderLine(std::string_view line);
  Status OnTrailerLine(std::string_view line);
  Status EndOfChunk();
  bool Signed() const;
  bool HasTrailer() const;

  Options opts_;
  State state_ = State::kHeader;
  Status error_;
  std::string line_;        // the current header or trailer line
  uint64_t remaining_ = 0;  // data bytes left in the current chunk
  uint64_t decoded_ = 0;
  ShaStream chunk_sha_{ShaStream::Kind::kSha256};
  std::array<uint8_t, 32> expected_sig_{};
  std::array<char, 64> prev_sig_{};  // hex
  bool last_chunk_ = false;
  std::string sts_;          // string to sign, reused
  std::string trailer_buf_;  // reserved (max_trailer_bytes) when the first trailer arrives
  std::vector<Trailer> trailers_;
  bool trailer_signed_ = false;
  std::vector<std::string> declared_;
};

class AwsChunkedEncoder {
 public:
  // mode: one of the streaming modes; signing: from SignedHeaders::signing (signed modes).
  AwsChunkedEncoder(PayloadMode mode, SigningContext signing);

  // The framing that goes before a chunk of `data` (not empty): its size and, in the signed modes,
  // its signature. Send it, then data, then kChunkEnd. The view lives until the next call.
  std::string_view ChunkHeader(std::string_view data);
  static constexpr std::string_view kChunkEnd = "\r\n";
  // Appends the whole chunk (header, data, CRLF) to *out.
  void AppendChunk(std::string_view data, std::string* out);
  // The end of the body: the zero-size chunk, the trailers (signed in the signed-trailer mode)
  // and the closing CRLF. kInvalidArgument when trailers are given in the signed mode without a
  // trailer, or a trailer name or value cannot be framed. The view lives until the next call.
  Result<std::string_view> Final(std::span<const Trailer> trailers);

  // The encoded length of a body of `decoded` bytes sent in chunks of chunk_size (the last one
  // shorter) ending with these trailers: the Content-Length to send.
  static uint64_t EncodedLength(PayloadMode mode, uint64_t decoded, uint64_t chunk_size,
                                std::span<const Trailer> trailers);

 private:
  void SignChunk(std::string_view data, char out_hex[64]);
  PayloadMode mode_;
  SigningContext signing_;
  std::array<char, 64> prev_sig_{};
  std::string buf_, sts_;
};

}  // namespace cairn::s3
