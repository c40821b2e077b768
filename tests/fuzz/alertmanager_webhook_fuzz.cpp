// Fuzz target: AlertDecoder::decode_webhook, the decoder of
// Alertmanager webhook payloads (POST /webhook/alertmanager, and the Kafka alerts topic).
// Any bytes: no crash, no leak, no sanitizer report, and the decoded batch
// holds its invariants, decoded twice (alert_decoder_check.hpp).

#include <cstddef>
#include <cstdint>

#include "tests/fuzz/alert_decoder_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return aiopsd::fuzz::fuzz_decoder(data, size,
                                    &aiopsd::alertmanager::AlertDecoder::decode_webhook);
}
