// The command line's value parsers (sizes, durations, --meta, --range): pure functions, apart from
// the commands so that the fuzz targets (tests/fuzz/) link them without the CLI.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "libstore/common/status.h"
#include "libstore/object/object_store.h"  // GetRange

namespace cairn::cli {

// Parses durations such as 0, 90s, 30m, 24h, 7d into nanoseconds.
Result<int64_t> ParseDuration(const std::string& s);
// Parses sizes such as 4096, 64K, 64KiB, 1M, 1.5G (powers of 1024).
Result<uint64_t> ParseSize(const std::string& s);
// A --part-size value: a size (ParseSize) from 5 MiB to 5 GiB, the part sizes S3 takes.
Result<uint64_t> ParsePartSize(const std::string& s);
// put's --meta NAME=VALUE items, checked as S3 would take them over HTTP: NAME is an HTTP header
// name (RFC 9110 token: letters, digits and !#$%&'*+-.^_`|~), kept in lower case as S3 keeps it,
// and given at most once (case-insensitively); VALUE as ValidateFieldValue. kInvalidArgument
// naming the bad item otherwise. Size limits are the store's (PutObject).
Status ParseMeta(const std::vector<std::string>& in,
                 std::vector<std::pair<std::string, std::string>>* out);
// A value that must travel unchanged in an HTTP header (--meta values, --content-type): UTF-8,
// no control characters but tab, no leading or trailing blanks. `what` names it in the error.
Status ValidateFieldValue(const std::string& what, const std::string& value);
// Parses get's --range "FIRST-LAST" (bytes; LAST inclusive, and when left out: to the end).
Status ParseRange(const std::string& s, GetRange* r);
// s for an error message: at most 64 bytes of it.
std::string Cut(const std::string& s);

}  // namespace cairn::cli
