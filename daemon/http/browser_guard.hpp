#pragma once
// Keeps web pages out of the HTTP API. With authentication off (the demo
// default) any page open in a browser on the host could otherwise POST
// alerts, approve, or resume automation: browsers send such "simple"
// requests cross-site without asking. So every request that changes state
// (anything but GET, HEAD, OPTIONS):
//   - is refused (403 cross_origin) when its Origin is not the host it was
//     sent to, or Sec-Fetch-Site says cross-site or same-site;
//   - with a body, must say Content-Type: application/json (or +json), else
//     415 unsupported_media_type: a page can send JSON cross-site only after
//     a CORS preflight, which aiopsd never grants.
// Bodyless POSTs (`curl -X POST .../-/reload`) need no content type: browsers
// send Origin on every POST, and that check covers them.

#include <optional>
#include <string>

#include "daemon/http/server.hpp"

namespace aiopsd::daemon {

struct BrowserRefusal {
  http::status status;
  std::string code;  // cross_origin | unsupported_media_type
  std::string message;
};

std::optional<BrowserRefusal> browser_refusal(const HttpRequest& request);

}  // namespace aiopsd::daemon
