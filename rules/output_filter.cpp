#include "rules/output_filter.hpp"

#include <fmt/format.h>

namespace aiopsd::rules {

namespace {
// ECMA-48 escapes: CSI (ESC [ params intermediates final); string controls
// OSC, DCS, SOS, PM and APC (ESC ] P X ^ _ ... terminated by BEL or ST); every
// other escape (ESC intermediates* final: ESC 7, ESC =, ESC ( B, ESC c, ...);
// and finally any stray ESC, so none ever reaches a log or the audit file.
constexpr std::string_view kAnsiPattern =
    R"(\x1b(?:\[[0-?]*[ -/]*[@-~]|[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)|[ -/]*[0-~])?)";

std::shared_ptr<const RE2> ansi_re() {
  static const auto re = [] {
    RE2::Options opts;
    opts.set_encoding(RE2::Options::EncodingLatin1);  // device output need not be UTF-8
    return std::make_shared<const RE2>(std::string(kAnsiPattern), opts);
  }();
  return re;
}
}  // namespace

OutputFilter::OutputFilter() : ansi_(ansi_re()) {}

std::optional<OutputFilter> OutputFilter::compile(const std::vector<std::string>& patterns,
                                                  std::vector<std::string>& errors) {
  OutputFilter f;
  RE2::Options opts;
  opts.set_log_errors(false);
  std::size_t before = errors.size();
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    auto re = std::make_shared<const RE2>(patterns[i], opts);
    if (!re->ok()) {
      errors.push_back(
          fmt::format("redact[{}]: invalid pattern '{}': {}", i, patterns[i], re->error()));
      continue;
    }
    f.redact_.push_back(std::move(re));
  }
  if (errors.size() != before) return std::nullopt;
  return f;
}

std::string strip_ansi(std::string_view raw) {
  std::string out(raw);
  RE2::GlobalReplace(&out, *ansi_re(), "");
  return out;
}

namespace {
std::string redact_one(const std::string& in, const RE2& re) {
  const int groups = re.NumberOfCapturingGroups();
  std::vector<re2::StringPiece> m(static_cast<std::size_t>(groups) + 1);
  std::string out;
  std::size_t pos = 0;
  re2::StringPiece text(in);
  while (pos <= in.size() &&
         re.Match(text, pos, in.size(), RE2::UNANCHORED, m.data(), static_cast<int>(m.size()))) {
    auto start = static_cast<std::size_t>(m[0].data() - in.data());
    auto end = start + m[0].size();
    out.append(in, pos, start - pos);
    if (groups == 0) {
      out += kRedacted;
    } else {
      std::size_t cur = start;
      for (int g = 1; g <= groups; ++g) {
        if (m[g].data() == nullptr) continue;
        auto gs = static_cast<std::size_t>(m[g].data() - in.data());
        if (gs < cur) continue;  // nested group already covered
        out.append(in, cur, gs - cur);
        out += kRedacted;
        cur = gs + m[g].size();
      }
      out.append(in, cur, end - cur);
    }
    if (end == start) {  // empty match: step over one byte
      if (start < in.size()) out += in[start];
      pos = start + 1;
    } else {
      pos = end;
    }
  }
  if (pos < in.size()) out.append(in, pos, std::string::npos);
  return out;
}
}  // namespace

std::string OutputFilter::apply(std::string_view raw) const {
  std::string out(raw);
  RE2::GlobalReplace(&out, *ansi_, "");
  for (const auto& re : redact_) out = redact_one(out, *re);
  return out;
}

}  // namespace aiopsd::rules
