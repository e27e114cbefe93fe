// Turns the bytes of a report into well-formed UTF-8 XML that pugixml can read, recording every
// recovery. Real reporters send a byte order mark, windows-1252 text, invalid UTF-8, a stray
// wrapper element around <feedback>, or unescaped '<' and '&' inside text; none of these should
// cost the report. Nothing here expands entities or reads a DTD.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/limits.h"
#include "base/result.h"

namespace dmarc::parse {

// Normalises encoding in place: strips a BOM, transcodes a declared single-byte encoding
// (windows-1252, ISO-8859-x, US-ASCII) to UTF-8, replaces invalid UTF-8 with U+FFFD.
// Each change adds a line to errors.
void NormaliseEncoding(std::string& xml, std::vector<std::string>& errors);

// Refuses a document nested deeper than limits.max_xml_depth or with more elements than
// limits.max_xml_elements, in one fast scan before any tree is built.
Result<bool> CheckStructure(std::string_view xml, const Limits& limits);

// Repairs text that is not well-formed: keeps only <feedback>...</feedback> when something
// wraps it, and escapes '<' and '&' that do not start markup or an entity. Adds a line to
// errors for each kind of repair made. Returns false when there was nothing to repair.
bool RepairMarkup(std::string& xml, std::vector<std::string>& errors);

}  // namespace dmarc::parse
