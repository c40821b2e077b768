#pragma once
// A secret given by reference, never inline: the one type for every secret
// the config names (API tokens, Kafka SASL/SSL passwords, webhook tokens, SSH
// passwords and key passphrases), and the one reader, so that one trimming
// rule holds everywhere and `aiopsd check` can tell that each is readable.
//
// Threads: none of its own; read_secret may be called from any thread.

#include <optional>
#include <string>

namespace aiopsd::secrets {

struct SecretRef {
  std::string env;   // an environment variable holding it
  std::string file;  // or a file holding it (an absolute path once loaded)

  bool empty() const { return env.empty() && file.empty(); }
  bool operator==(const SecretRef&) const = default;
};

// "environment variable X" or "file P", for messages: never the value.
std::string describe(const SecretRef& ref);

// The secret, with surrounding blanks (space, tab, CR, LF) removed: a file
// usually ends with a newline, and no secret begins or ends with a blank.
// nullopt, with `why` saying what is wrong (unset, unreadable, empty), when
// there is none. The caller wipes the value (OPENSSL_cleanse) when done.
std::optional<std::string> read_secret(const SecretRef& ref, std::string& why);

}  // namespace aiopsd::secrets
