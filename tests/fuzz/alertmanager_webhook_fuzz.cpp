// Fuzz target: AlertDecoder::decode_webhook, the decoder of
// Alertmanager webhook payloads (POST /webhook/alertmanager, and the Kafka alerts topic).
// Any bytes: no crash, no leak, no sanitizer report, and the decoded batch
// holds its invariants (alert_decoder_check.hpp). A fixed clock keeps the
// "has endsAt passed" decision deterministic.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "connectors/alertmanager/alert_decoder.hpp"
#include "rules/clock.hpp"
#include "rules/event.hpp"
#include "tests/fuzz/alert_decoder_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aiopsd;
  static const rules::ManualClock clock;
  rules::Interner interner;
  alertmanager::AlertDecoder decoder(interner, {}, &clock);
  std::string body(reinterpret_cast<const char*>(data), size);
  std::vector<rules::Event> out;
  auto r = decoder.decode_webhook(body, out);
  fuzz::check_decoded(r, out, interner);
  // The daemon reuses one decoder and one vector per thread: decode again.
  out.clear();
  body.assign(reinterpret_cast<const char*>(data), size);
  auto again = decoder.decode_webhook(body, out);
  fuzz::check_decoded(again, out, interner);
  if (again.accepted != r.accepted || again.errors.size() != r.errors.size()) std::abort();
  return 0;
}
