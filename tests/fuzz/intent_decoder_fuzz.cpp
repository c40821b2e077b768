// Fuzz target: kafka::IntentDecoder::decode, the decoder of Kafka intent
// messages (schemas/intent.schema.json). Any bytes: no crash, no leak, no
// sanitizer report, and exactly one of intent or error comes out. The decoder
// is reused across inputs, as a consumer thread does (reused_state.hpp).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "connectors/kafka/intent_decoder.hpp"
#include "tests/fuzz/reused_state.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aiopsd;
  auto fail = [](const char* what) {
    std::fprintf(stderr, "intent decoder invariant violated: %s\n", what);
    std::abort();
  };
  kafka::IntentDecoder& decoder = fuzz::reused_state<kafka::IntentDecoder>();
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto r = decoder.decode(bytes);
  if (r.intent.has_value() == r.error.has_value()) fail("not exactly one of intent and error");
  if (r.intent && r.intent->intent_id != r.intent_id) fail("intent_id differs from the intent's");
  if (r.error && r.error->code != "invalid_json" && r.error->code != "schema_violation") {
    fail("unknown error code");
  }
  // One decoder serves every message of a consumer: the second decode of the
  // same bytes gives the same answer.
  auto again = decoder.decode(bytes);
  if (again.intent.has_value() != r.intent.has_value() || again.intent_id != r.intent_id) {
    fail("decoding the same bytes twice differs");
  }
  return 0;
}
