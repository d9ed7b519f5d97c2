// aws-chunked: the S3 documentation's chunked-upload examples (66560 bytes of 'a', with and
// without a trailer), every split point, every truncation, and each way a body is refused.
#include "libstore/s3/aws_chunked.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <random>

#include "libstore/s3/sigv4_canonical.h"

using namespace cairn;
using namespace cairn::s3;

namespace {

SigningContext DocContext(std::string_view seed) {
  SigningContext c;
  DeriveSigningKey("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3",
                   c.key.data());
  std::memcpy(c.amz_date.data(), "20130524T000000Z", 16);
  c.scope = "20130524/us-east-1/s3/aws4_request";
  REQUIRE(seed.size() == 64);
  std::memcpy(c.seed_signature.data(), seed.data(), 64);
  return c;
}

AwsChunkedDecoder::Options Opts(PayloadMode mode, const SigningContext& c, int64_t len,
                                std::string trailer = "") {
  AwsChunkedDecoder::Options o;
  o.mode = mode;
  o.signing = c;
  o.decoded_length = len;
  o.declared_trailers = std::move(trailer);
  return o;
}

struct Decoded {
  Status push, finish;
  std::string data;
  std::vector<std::pair<std::string, std::string>> trailers;
  Code code() const { return !push.ok() ? push.code() : finish.code(); }
};

// Decodes `body` pushed in the pieces that `cuts` (ascending offsets) make.
Decoded Decode(const AwsChunkedDecoder::Options& o, std::string_view body,
               const std::vector<size_t>& cuts = {}) {
  AwsChunkedDecoder d(o);
  Decoded r;
  size_t at = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(body.size());
  for (size_t end : ends) {
    r.push = d.Push(body.substr(at, end - at), [&](std::string_view s) {
      r.data.append(s);
      return Status::Ok();
    });
    at = end;
    if (!r.push.ok()) return r;
  }
  r.finish = d.Finish();
  if (r.finish.ok()) {
    for (const Trailer& t : d.trailers()) r.trailers.emplace_back(t.name, t.value);
  }
  return r;
}

std::string Encode(PayloadMode mode, const SigningContext& c, std::string_view data, size_t chunk,
                   std::vector<Trailer> trailers = {}) {
  AwsChunkedEncoder e(mode, c);
  std::string out;
  for (size_t at = 0; at < data.size(); at += chunk) {
    e.AppendChunk(data.substr(at, std::min(chunk, data.size() - at)), &out);
  }
  auto fin = e.Final(trailers);
  REQUIRE(fin.ok());
  out.append(*fin);
  CHECK(out.size() == AwsChunkedEncoder::EncodedLength(mode, data.size(), chunk, trailers));
  return out;
}

std::string DocBody(const std::array<const char*, 3>& sigs, std::string_view trailer) {
  std::string b = "10000;chunk-signature=" + std::string(sigs[0]) + "\r\n";
  b.append(65536, 'a');
  b += "\r\n400;chunk-signature=" + std::string(sigs[1]) + "\r\n";
  b.append(1024, 'a');
  b += "\r\n0;chunk-signature=" + std::string(sigs[2]) + "\r\n";
  b += trailer;
  b += "\r\n";
  return b;
}

}  // namespace

TEST_CASE("aws-chunked: the S3 documentation's signed example decodes and re-encodes",
          "[aws_chunked]") {
  const SigningContext c =
      DocContext("4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
  const std::string body =
      DocBody({"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
               "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
               "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"},
              "");
  REQUIRE(body.size() == 66824);  // the documented Content-Length
  auto r = Decode(Opts(PayloadMode::kStreamingSigned, c, 66560), body);
  REQUIRE(r.code() == Code::kOk);
  CHECK(r.data == std::string(66560, 'a'));
  CHECK(r.trailers.empty());
  CHECK(Encode(PayloadMode::kStreamingSigned, c, std::string(66560, 'a'), 65536) == body);

  // One flipped bit anywhere in a signature or the data: SignatureDoesNotMatch.
  for (size_t at : {size_t(22), size_t(100), size_t(60000), size_t(65625 + 21),
                    size_t(65626 + 86 + 500), size_t(body.size() - 10)}) {
    std::string bad = body;
    bad[at] = bad[at] == 'a' ? 'b' : (bad[at] == '0' ? '1' : '0');
    INFO(at);
    CHECK(Decode(Opts(PayloadMode::kStreamingSigned, c, 66560), bad).code() ==
          Code::kSignatureMismatch);
  }
  // Another seed (another request) does not verify these chunks.
  CHECK(Decode(Opts(PayloadMode::kStreamingSigned, DocContext(std::string(64, '0')), 66560), body)
            .code() == Code::kSignatureMismatch);
}

TEST_CASE("aws-chunked: the S3 documentation's trailer example", "[aws_chunked]") {
  const SigningContext c =
      DocContext("106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e");
  const std::string trailer =
      "x-amz-checksum-crc32c:sOO8/Q==\r\n"
      "x-amz-trailer-signature:"
      "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n";
  const std::string body =
      DocBody({"b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
               "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
               "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"},
              trailer);
  const auto opts = Opts(PayloadMode::kStreamingSignedTrailer, c, 66560, "x-amz-checksum-crc32c");
  auto r = Decode(opts, body);
  REQUIRE(r.code() == Code::kOk);
  CHECK(r.data.size() == 66560);
  REQUIRE(r.trailers.size() == 1);
  CHECK(r.trailers[0].first == "x-amz-checksum-crc32c");
  CHECK(r.trailers[0].second == "sOO8/Q==");
  std::vector<Trailer> t = {{"x-amz-checksum-crc32c", "sOO8/Q=="}};
  CHECK(Encode(PayloadMode::kStreamingSignedTrailer, c, std::string(66560, 'a'), 65536, t) == body);

  auto replaced = [&](std::string_view from, std::string_view to) {
    std::string b = body;
    b.replace(b.find(from), from.size(), to);
    return b;
  };
  // A changed trailer value or trailer signature: SignatureDoesNotMatch.
  CHECK(Decode(opts, replaced("sOO8/Q==", "sOO8/Q=0")).code() == Code::kSignatureMismatch);
  CHECK(Decode(opts, replaced("d81f82fc", "d81f82fd")).code() == Code::kSignatureMismatch);
  // No trailer signature at all.
  CHECK(Decode(opts, replaced(trailer.substr(32), "")).code() == Code::kSignatureMismatch);
  // The trailer that x-amz-trailer names is missing (and the signature covers nothing).
  auto missing = Decode(opts, replaced("x-amz-checksum-crc32c:sOO8/Q==\r\n", ""));
  CHECK(missing.code() != Code::kOk);
  // A trailer x-amz-trailer did not name.
  CHECK(Decode(Opts(PayloadMode::kStreamingSignedTrailer, c, 66560, "x-amz-checksum-crc32"), body)
            .code() == Code::kInvalidArgument);
  // Without a trailer, the signed mode refuses one.
  CHECK(Decode(Opts(PayloadMode::kStreamingSigned, c, 66560), body).code() ==
        Code::kInvalidArgument);
}

TEST_CASE("aws-chunked: every split point, every truncation, every mode", "[aws_chunked]") {
  const SigningContext c = DocContext(std::string(64, 'e'));
  const std::string data = "hello, aws-chunked world: 0123456789";
  struct Mode {
    PayloadMode mode;
    std::vector<Trailer> trailers;
    std::string declared;
  };
  const std::vector<Mode> modes = {
      {PayloadMode::kStreamingSigned, {}, ""},
      {PayloadMode::kStreamingUnsignedTrailer,
       {{"x-amz-checksum-crc32", "NSRBwg=="}, {"x-amz-checksum-sha256", "abc="}},
       "x-amz-checksum-crc32, X-Amz-Checksum-Sha256"},
      {PayloadMode::kStreamingSignedTrailer,
       {{"x-amz-checksum-crc64nvme", "AAAAAAAAAAA="}},
       "x-amz-checksum-crc64nvme"},
      {PayloadMode::kStreamingUnsignedTrailer, {}, ""},
  };
  for (const Mode& m : modes) {
    INFO(PayloadModeName(m.mode));
    const std::string body = Encode(m.mode, c, data, 7, m.trailers);
    const auto o = Opts(m.mode, c, int64_t(data.size()), m.declared);
    for (size_t cut = 0; cut <= body.size(); ++cut) {
      auto r = Decode(o, body, {cut});
      REQUIRE(r.code() == Code::kOk);
      REQUIRE(r.data == data);
      REQUIRE(r.trailers.size() == m.trailers.size());
      for (size_t i = 0; i < m.trailers.size(); ++i) {
        CHECK(r.trailers[i].first == m.trailers[i].name);
        CHECK(r.trailers[i].second == m.trailers[i].value);
      }
    }
    std::vector<size_t> every;
    for (size_t i = 1; i < body.size(); ++i) every.push_back(i);
    CHECK(Decode(o, body, every).data == data);
    // Every truncation: never OK, and the decoder says the body is incomplete.
    for (size_t len = 0; len < body.size(); ++len) {
      auto r = Decode(o, body.substr(0, len));
      INFO(len);
      REQUIRE(r.code() == Code::kIncompleteBody);
    }
    // Anything after the end is refused.
    CHECK(Decode(o, body + "x").code() == Code::kInvalidArgument);
    // x-amz-decoded-content-length one short or one long.
    CHECK(Decode(Opts(m.mode, c, int64_t(data.size()) - 1, m.declared), body).code() ==
          Code::kIncompleteBody);
    CHECK(Decode(Opts(m.mode, c, int64_t(data.size()) + 1, m.declared), body).code() ==
          Code::kIncompleteBody);
    // -1: not checked.
    CHECK(Decode(Opts(m.mode, c, -1, m.declared), body).code() == Code::kOk);
  }
}

TEST_CASE("aws-chunked: reordered, malformed and oversized bodies", "[aws_chunked]") {
  const SigningContext c = DocContext(std::string(64, '1'));
  const auto o = Opts(PayloadMode::kStreamingSigned, c, 12);
  AwsChunkedEncoder e(PayloadMode::kStreamingSigned, c);
  std::string c1, c2, c3;
  e.AppendChunk("aaaa", &c1);
  e.AppendChunk("bbbb", &c2);
  e.AppendChunk("cccc", &c3);
  const std::string end(*e.Final({}));
  REQUIRE(Decode(o, c1 + c2 + c3 + end).code() == Code::kOk);
  // Reordered or dropped chunks break the chain.
  CHECK(Decode(o, c2 + c1 + c3 + end).code() == Code::kSignatureMismatch);
  CHECK(Decode(o, c1 + c3 + c2 + end).code() == Code::kSignatureMismatch);
  CHECK(Decode(Opts(PayloadMode::kStreamingSigned, c, 8), c1 + c3 + end).code() ==
        Code::kSignatureMismatch);
  // A chunk repeated (replayed).
  CHECK(Decode(Opts(PayloadMode::kStreamingSigned, c, 16), c1 + c1 + c2 + c3 + end).code() ==
        Code::kSignatureMismatch);

  const std::string sig(64, 'a');
  auto code = [&](const std::string& body, ChunkedLimits lim = {}) {
    auto opts = Opts(PayloadMode::kStreamingSigned, c, -1);
    opts.limits = lim;
    return Decode(opts, body).code();
  };
  // A chunk header line longer than the limit, a chunk above the size limit.
  CHECK(code("4;chunk-signature=" + sig + std::string(2000, ' ') + "\r\n") ==
        Code::kInvalidArgument);
  ChunkedLimits small;
  small.max_chunk_size = 3;
  CHECK(code("4;chunk-signature=" + sig + "\r\naaaa\r\n", small) == Code::kInvalidArgument);
  small.max_line = 20;
  CHECK(code("4;chunk-signature=" + sig + "\r\n", small) == Code::kInvalidArgument);
  // Grammar: no size, a sign, 17 hex digits, no signature, a short one, bare LF, no CRLF after
  // the data.
  for (std::string bad : std::vector<std::string>{
           ";chunk-signature=" + sig + "\r\n", "-4;chunk-signature=" + sig + "\r\n",
           "10000000000000000;chunk-signature=" + sig + "\r\n", "4\r\n",
           "4;chunk-signature=abc\r\n", "4;chunk-signature=" + sig + "\n",
           c1.substr(0, c1.size() - 2) + "X\n", c1.substr(0, c1.size() - 2) + "\rX"}) {
    INFO(bad);
    CHECK(code(bad) == Code::kInvalidArgument);
  }
  // Unsigned-trailer mode: a chunk signature or another extension is refused.
  auto u = Opts(PayloadMode::kStreamingUnsignedTrailer, c, 4);
  CHECK(Decode(u, "4;chunk-signature=" + sig + "\r\naaaa\r\n0\r\n\r\n").code() ==
        Code::kInvalidArgument);
  CHECK(Decode(u, "4\r\naaaa\r\n0\r\n\r\n").code() == Code::kOk);
  // Trailers: too many, too large, malformed, duplicated, undeclared, a bad declaration.
  auto ut = Opts(PayloadMode::kStreamingUnsignedTrailer, c, 0, "x-amz-checksum-crc32");
  CHECK(Decode(ut, "0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n").code() == Code::kOk);
  CHECK(Decode(ut, "0\r\nx-amz-checksum-crc32 AAAAAA==\r\n\r\n").code() == Code::kInvalidArgument);
  CHECK(Decode(ut, "0\r\nx-amz-checksum-crc32:AA\x01\r\n\r\n").code() == Code::kInvalidArgument);
  CHECK(Decode(ut, "0\r\nx-amz-checksum-crc32:A\r\nx-amz-checksum-crc32:A\r\n\r\n").code() ==
        Code::kInvalidArgument);
  CHECK(Decode(ut, "0\r\nx-amz-meta-a:A\r\n\r\n").code() == Code::kInvalidArgument);
  CHECK(Decode(ut, "0\r\n\r\n").code() == Code::kInvalidArgument);  // declared, not sent
  CHECK(
      Decode(Opts(PayloadMode::kStreamingUnsignedTrailer, c, 0, "bad name"), "0\r\n\r\n").code() ==
      Code::kInvalidArgument);
  CHECK(Decode(Opts(PayloadMode::kStreamingSigned, c, 0, "x-amz-checksum-crc32"), "").code() ==
        Code::kInvalidArgument);
  CHECK(Decode(Opts(PayloadMode::kUnsigned, c, 0), "0\r\n\r\n").code() == Code::kInvalidArgument);
  auto many = ut;
  many.limits.max_trailer_bytes = 24;
  CHECK(Decode(many, "0\r\nx-amz-checksum-crc32:AAAAAAAAAAAAAAAAAA==\r\n\r\n").code() ==
        Code::kInvalidArgument);
  // The encoder refuses trailers it cannot frame, or in a mode without them.
  AwsChunkedEncoder enc(PayloadMode::kStreamingUnsignedTrailer, c);
  std::vector<Trailer> bad = {{"x-amz-checksum-crc32", "a\r\nb"}};
  CHECK(enc.Final(bad).status().code() == Code::kInvalidArgument);
  AwsChunkedEncoder signed_enc(PayloadMode::kStreamingSigned, c);
  std::vector<Trailer> ok = {{"x-amz-checksum-crc32", "AAAAAA=="}};
  CHECK(signed_enc.Final(ok).status().code() == Code::kInvalidArgument);
}

TEST_CASE("aws-chunked: random round trips through Signer, Verifier, encoder and decoder",
          "[aws_chunked]") {
  ManualClock clock;
  clock.Set(int64_t(1767225600) * 1000000000);
  CredentialTable users;
  REQUIRE(users.Add({"AK", "SK", false}).ok());
  SignerOptions so;
  so.access_key = "AK";
  so.secret_key = "SK";
  so.clock = &clock;
  VerifierOptions vo;
  vo.clock = &clock;
  vo.credentials = &users;
  Signer signer(so);
  Verifier verifier(vo);
  std::mt19937_64 rng(11);
  for (int i = 0; i < 60; ++i) {
    const PayloadMode mode =
        std::array{PayloadMode::kStreamingSigned, PayloadMode::kStreamingUnsignedTrailer,
                   PayloadMode::kStreamingSignedTrailer}[i % 3];
    std::string data(size_t(rng() % 5000), '\0');
    for (char& ch : data) ch = char(rng());
    const size_t chunk = 1 + size_t(rng() % 1500);
    const bool trailer = mode != PayloadMode::kStreamingSigned;
    const std::string len = std::to_string(data.size());
    std::vector<HttpHeader> h = {{"Host", "localhost"},
                                 {"Content-Encoding", "aws-chunked"},
                                 {"x-amz-decoded-content-length", len}};
    if (trailer) h.push_back({"x-amz-trailer", "x-amz-checksum-crc32"});
    auto s = signer.Sign("PUT", "/b/k", h, PayloadModeName(mode));
    REQUIRE(s.ok());
    h.push_back({"x-amz-date", s->amz_date});
    h.push_back({"x-amz-content-sha256", s->content_sha256});
    h.push_back({"Authorization", s->authorization});
    auto r = verifier.Verify("PUT", "/b/k", h);
    REQUIRE(r.ok());
    REQUIRE(r->payload == mode);
    std::vector<Trailer> t;
    if (trailer) t.push_back({"x-amz-checksum-crc32", "AAAAAA=="});
    const std::string body = Encode(mode, s->signing, data, chunk, t);
    std::vector<size_t> cuts;
    for (size_t at = size_t(rng() % 700); at < body.size(); at += 1 + size_t(rng() % 700)) {
      cuts.push_back(at);
    }
    auto d = Decode(Opts(mode, r->signing, r->decoded_content_length, r->trailer), body, cuts);
    REQUIRE(d.code() == Code::kOk);
    CHECK(d.data == data);
    CHECK(d.trailers.size() == t.size());
  }
}
