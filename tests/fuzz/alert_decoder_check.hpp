#pragma once
// What every decoded batch must satisfy, whatever the body: checked by the
// Alertmanager v2 and webhook targets, abort() when violated.

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "connectors/alertmanager/alert_decoder.hpp"

namespace aiopsd::fuzz {

inline void check_decoded(const alertmanager::DecodeResult& r, const std::vector<rules::Event>& out,
                          const rules::Interner& interner) {
  auto fail = [](const char* what) {
    std::fprintf(stderr, "decoder invariant violated: %s\n", what);
    std::abort();
  };
  if (r.accepted != out.size()) fail("accepted != events appended");
  if (r.body_rejected() && !out.empty()) fail("a rejected body appended events");
  for (const auto& e : out) {
    if (e.labels.empty()) fail("event without labels");
    for (std::size_t i = 0; i < e.labels.size(); ++i) {
      if (interner.view(e.labels[i].value).empty()) fail("empty label value kept");
      if (i > 0 && !(e.labels[i - 1].name < e.labels[i].name)) fail("labels not sorted/unique");
    }
    for (const auto& a : e.annotations) {
      if (std::size_t{a.offset} + a.size > e.annotation_text.size())
        fail("annotation out of range");
    }
  }
}

}  // namespace aiopsd::fuzz
