#pragma once
// What every decoded batch must satisfy, whatever the body: checked by the
// Alertmanager v2 and webhook targets, abort() when violated; and the one
// body both targets share (fuzz_decoder).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "connectors/alertmanager/alert_decoder.hpp"
#include "rules/clock.hpp"
#include "rules/event.hpp"
#include "tests/fuzz/reused_state.hpp"

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

// A fixed clock keeps "has endsAt passed" deterministic. The decoder and its
// Interner are reused across inputs, as in the daemon (reused_state.hpp).
struct DecoderState {
  rules::ManualClock clock;
  rules::Interner interner;
  alertmanager::AlertDecoder decoder{interner, {}, &clock};
};

using DecodeFn = alertmanager::DecodeResult (alertmanager::AlertDecoder::*)(
    std::string&, std::vector<rules::Event>&);

// Decodes `data` with `decode`, checks the batch, and decodes it again: the
// daemon reuses one decoder and one vector per thread, so a second pass must
// agree with the first.
inline int fuzz_decoder(const std::uint8_t* data, std::size_t size, DecodeFn decode) {
  DecoderState& state = reused_state<DecoderState>();
  std::string body(reinterpret_cast<const char*>(data), size);
  std::vector<rules::Event> out;
  auto r = (state.decoder.*decode)(body, out);
  check_decoded(r, out, state.interner);
  out.clear();
  body.assign(reinterpret_cast<const char*>(data), size);
  auto again = (state.decoder.*decode)(body, out);
  check_decoded(again, out, state.interner);
  if (again.accepted != r.accepted || again.errors.size() != r.errors.size()) std::abort();
  return 0;
}

}  // namespace aiopsd::fuzz
