// The dashboard's own HTTP request and response: what the handlers (server.cc, auth.h, the API
// routing) see, so that only the server adapter (http_listener.h) knows the HTTP library. The
// accessors keep the names the handlers were written against (get_header_value, set_header,
// set_content), so that a handler reads the same whatever library carries it.
#pragma once

#include <algorithm>
#include <cctype>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dmarc::web::http {

// Header names compare without case (RFC 9110, 5.1).
struct CaseLess {
  bool operator()(std::string_view a, std::string_view b) const {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
      return std::tolower(static_cast<unsigned char>(x)) <
             std::tolower(static_cast<unsigned char>(y));
    });
  }
};

struct Request {
  std::string method;                              // "GET", "POST", ...
  std::string path;                                // decoded, without the query
  std::multimap<std::string, std::string> params;  // query parameters, decoded
  std::multimap<std::string, std::string, CaseLess> headers;
  std::string body;
  std::string remote_addr;  // the client's address, "127.0.0.1", "::1"

  // The first value of the header, "" when there is none.
  std::string get_header_value(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  bool has_header(const std::string& name) const { return headers.contains(name); }
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type;  // empty: no Content-Type

  // Replaces the header of that name (Set-Cookie included: one cookie per answer here).
  void set_header(const std::string& name, const std::string& value) {
    std::erase_if(headers, [&](const auto& h) {
      return !CaseLess()(h.first, name) && !CaseLess()(name, h.first);
    });
    headers.emplace_back(name, value);
  }
  std::string get_header_value(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (!CaseLess()(k, name) && !CaseLess()(name, k)) return v;
    }
    return "";
  }
  void set_content(std::string content, std::string type) {
    body = std::move(content);
    content_type = std::move(type);
  }
};

}  // namespace dmarc::web::http
