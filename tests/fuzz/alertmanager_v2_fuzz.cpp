// Fuzz target: AlertDecoder::decode_v2_alerts, the decoder of
// Alertmanager v2 API bodies (POST /api/v2/alerts).
// Any bytes: no crash, no leak, no sanitizer report, and the decoded batch
// holds its invariants (alert_decoder_check.hpp). The decoder and its
// Interner are reused across inputs, as in the daemon (reused_state.hpp).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "connectors/alertmanager/alert_decoder.hpp"
#include "rules/clock.hpp"
#include "rules/event.hpp"
#include "tests/fuzz/alert_decoder_check.hpp"
#include "tests/fuzz/reused_state.hpp"

namespace {

// A fixed clock keeps "has endsAt passed" deterministic.
struct State {
  aiopsd::rules::ManualClock clock;
  aiopsd::rules::Interner interner;
  aiopsd::alertmanager::AlertDecoder decoder{interner, {}, &clock};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aiopsd;
  State& state = fuzz::reused_state<State>();
  auto& interner = state.interner;
  auto& decoder = state.decoder;
  std::string body(reinterpret_cast<const char*>(data), size);
  std::vector<rules::Event> out;
  auto r = decoder.decode_v2_alerts(body, out);
  fuzz::check_decoded(r, out, interner);
  // The daemon reuses one decoder and one vector per thread: decode again.
  out.clear();
  body.assign(reinterpret_cast<const char*>(data), size);
  auto again = decoder.decode_v2_alerts(body, out);
  fuzz::check_decoded(again, out, interner);
  if (again.accepted != r.accepted || again.errors.size() != r.errors.size()) std::abort();
  return 0;
}
