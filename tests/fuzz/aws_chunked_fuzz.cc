// The aws-chunked decoder on bodies a client sends, and the encoder's round trip.
// Input: byte 0 picks the mode (% 3: signed, unsigned with a trailer, signed with a trailer) and
// whether x-amz-decoded-content-length is checked (bit 2, then byte 1 is the length); the rest is
// the body. Properties:
//  - any split of the body gives the same result: the same decoded bytes, the same status code,
//    the same trailers (pushed whole, byte by byte over the first 256 bytes, and cut where the
//    input's own bytes say);
//  - OK only when the decoded length is the declared one (when declared);
//  - the rest, taken as data, encodes (in chunks of 16 + 4 x byte 1 bytes, with a trailer in the
//    trailer modes) and decodes back to itself.
// Coverage: libstore/s3/aws_chunked.cc cairn::s3::AwsChunkedDecoder::Next(
// Coverage: libstore/s3/aws_chunked.cc cairn::s3::AwsChunkedDecoder::OnTrailerLine(
#include <algorithm>
#include <cstring>
#include <vector>

#include "libstore/s3/aws_chunked.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace cairn;
using namespace cairn::s3;

struct Outcome {
  Code code = Code::kOk;
  std::string data;
  std::string trailers;
  // The same verdict; when OK the same data and trailers. A failed body may have handed out a
  // little more or less of the failing chunk depending on the split (its data is never trusted),
  // so then one output is a prefix of the other.
  bool operator==(const Outcome& o) const {
    if (code != o.code) return false;
    if (code == Code::kOk) return data == o.data && trailers == o.trailers;
    const std::string& a = data.size() < o.data.size() ? data : o.data;
    const std::string& b = data.size() < o.data.size() ? o.data : data;
    return b.compare(0, a.size(), a) == 0;
  }
};

// The signing context of the seeds (tests/fuzz/corpus/aws_chunked was made with it).
const SigningContext& Context() {
  static const SigningContext c = [] {
    SigningContext s;
    DeriveSigningKey("SK", "20260101", "us-east-1", "s3", s.key.data());
    std::memcpy(s.amz_date.data(), "20260101T000000Z", 16);
    s.scope = "20260101/us-east-1/s3/aws4_request";
    std::memset(s.seed_signature.data(), 'e', 64);
    return s;
  }();
  return c;
}

Outcome Run(const AwsChunkedDecoder::Options& o, std::string_view body,
            const std::vector<size_t>& cuts) {
  AwsChunkedDecoder d(o);
  Outcome r;
  // The decoded data is never longer than the body, nor than a declared length (refused before
  // it is handed out); the round trip's body is the encoding, up to 6 times its data.
  r.data.reserve(o.decoded_length >= 0 ? std::min(body.size(), size_t(o.decoded_length))
                                       : body.size());
  size_t at = 0;
  auto sink = [&](std::string_view s) {
    r.data.append(s);
    return Status::Ok();
  };
  Status st;
  for (size_t i = 0; i <= cuts.size() && st.ok(); ++i) {
    const size_t end = i < cuts.size() ? cuts[i] : body.size();
    st = d.Push(body.substr(at, end - at), sink);
    at = end;
  }
  if (st.ok()) st = d.Finish();
  r.code = st.code();
  if (st.ok()) {
    for (const Trailer& t : d.trailers()) {
      r.trailers.append(t.name).append(":").append(t.value).append("\n");
    }
    FUZZ_CHECK(d.decoded_bytes() == r.data.size());
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static constexpr PayloadMode kModes[] = {PayloadMode::kStreamingSigned,
                                           PayloadMode::kStreamingUnsignedTrailer,
                                           PayloadMode::kStreamingSignedTrailer};
  const PayloadMode mode = kModes[data[0] % 3];
  const bool trailer = mode != PayloadMode::kStreamingSigned;
  AwsChunkedDecoder::Options o;
  o.mode = mode;
  o.signing = Context();
  o.decoded_length = (data[0] & 4) ? int64_t(data[1]) : -1;
  if (trailer) o.declared_trailers = "x-amz-checksum-crc32";
  o.limits.max_line = 256;
  o.limits.max_chunk_size = 4096;
  const std::string_view body(reinterpret_cast<const char*>(data) + 2, size - 2);

  const Outcome whole = Run(o, body, {});
  // Byte by byte over the first 256 bytes (every chunk header and trailer of a small body), then
  // every 61 bytes: the cost of an input stays linear in its size with a small factor.
  std::vector<size_t> every;
  every.reserve(std::min<size_t>(body.size(), 256) + body.size() / 61 + 1);
  for (size_t i = 1; i < body.size(); i += i < 256 ? 1 : 61) every.push_back(i);
  FUZZ_CHECK(Run(o, body, every) == whole);
  std::vector<size_t> cuts;
  cuts.reserve(body.size() / 16 + 1);
  for (size_t i = 0; i < body.size(); i += 1 + static_cast<unsigned char>(body[i]) % 37) {
    cuts.push_back(i);
  }
  FUZZ_CHECK(Run(o, body, cuts) == whole);
  if (whole.code == Code::kOk && o.decoded_length >= 0) {
    FUZZ_CHECK(whole.data.size() == size_t(o.decoded_length));
  }

  // Encode the body as data, decode it back.
  AwsChunkedEncoder e(mode, Context());
  // 16..1036-byte chunks: every chunk costs an HMAC each way, and tiny chunks add nothing new.
  const size_t chunk = 16 + size_t(data[1]) * 4;
  std::vector<Trailer> t;
  if (trailer) t.push_back({"x-amz-checksum-crc32", "AAAAAA=="});
  std::string enc;
  enc.reserve(AwsChunkedEncoder::EncodedLength(mode, body.size(), chunk, t));
  for (size_t at = 0; at < body.size(); at += chunk) {
    e.AppendChunk(body.substr(at, std::min(chunk, body.size() - at)), &enc);
  }
  auto fin = e.Final(t);
  FUZZ_CHECK(fin.ok());
  enc.append(*fin);
  FUZZ_CHECK(enc.size() == AwsChunkedEncoder::EncodedLength(mode, body.size(), chunk, t));
  AwsChunkedDecoder::Options ro = o;
  ro.decoded_length = int64_t(body.size());
  const Outcome back = Run(ro, enc, cuts);
  FUZZ_CHECK(back.code == Code::kOk);
  FUZZ_CHECK(back.data == body);
  FUZZ_CHECK(back.trailers == (trailer ? "x-amz-checksum-crc32:AAAAAA==\n" : ""));
  return 0;
}
