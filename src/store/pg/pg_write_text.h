// Text for the PostgreSQL write path. PostgreSQL's text and JSONB refuse what SQLite keeps: a NUL
// byte and invalid UTF-8 (the server would fail the whole batch). Report fields are strangers'
// words, so every text value the writer sends goes through Clean (NUL dropped, invalid sequences
// replaced by U+FFFD) first. Keys compared in C++ (deduplication, rollup sums, lock order) are
// the cleaned texts, exactly what the server will compare.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/aggregate.h"

namespace dmarc::store::pg_impl {

// True when v is sent as is (valid UTF-8 without NUL): the common case, checked in one pass.
bool IsPgClean(std::string_view v);
// v without NUL bytes and with every invalid UTF-8 sequence replaced by U+FFFD.
std::string Clean(std::string_view v);
std::string Clean(const std::string& v);
std::optional<std::string> Clean(const std::optional<std::string>& v);
// v itself when clean, else its cleaned copy in `tmp`: no allocation in the common case.
const std::string& CleanRef(const std::string& v, std::string& tmp);

// COPY text format (tab-separated columns, escaped), cleaned.
void CopyText(std::string_view v, std::string& out);
void CopyOptText(const std::optional<std::string>& v, std::string& out);
void CopyInt(std::int64_t v, std::string& out);
void CopyOptInt(const std::optional<std::int64_t>& v, std::string& out);

// A record's results as the JSON arrays of aggregate_records (see migration 0001), appended in
// COPY text format; NULL when the list is empty.
void CopyDkimJson(const std::vector<model::DkimAuthResult>& list, std::string& out);
void CopySpfJson(const std::vector<model::SpfAuthResult>& list, std::string& out);
void CopyOverridesJson(const std::vector<model::PolicyOverrideReason>& list, std::string& out);

// A bigint[] in PostgreSQL's text form ("{1,2,3}") as numbers.
std::vector<std::int64_t> ParseIntArray(std::string_view text);

}  // namespace dmarc::store::pg_impl
