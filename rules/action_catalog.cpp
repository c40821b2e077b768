#include "rules/action_catalog.hpp"

#include <fmt/format.h>
#include <re2/re2.h>

#include <set>

#include "rules/template.hpp"

namespace aiopsd::rules {

std::string_view to_string(ParamType t) {
  switch (t) {
    case ParamType::kString:
      return "string";
    case ParamType::kEnum:
      return "enum";
    case ParamType::kInteger:
      return "integer";
    case ParamType::kDevice:
      return "device";
  }
  return "?";
}

// --- CommandTemplate ---------------------------------------------------------

std::optional<CommandTemplate> CommandTemplate::parse(std::string_view text, std::string& error) {
  static const RE2 ref_re(R"(\s*params\.([A-Za-z_][A-Za-z0-9_]{0,63})\s*)");
  CommandTemplate t;
  t.source_ = std::string(text);
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      t.segments_.push_back({false, std::string(text.substr(pos))});
      break;
    }
    if (open > pos) t.segments_.push_back({false, std::string(text.substr(pos, open - pos))});
    const std::size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      error = fmt::format("unclosed '{{{{' at offset {}", open);
      return std::nullopt;
    }
    const std::string_view inner = text.substr(open + 2, close - open - 2);
    std::string name;
    if (!RE2::FullMatch(inner, ref_re, &name)) {
      error = fmt::format("'{{{{{}}}}}': expected {{{{ params.NAME }}}}", inner);
      return std::nullopt;
    }
    t.segments_.push_back({true, std::move(name)});
    pos = close + 2;
  }
  return t;
}

std::string CommandTemplate::render(const ParamValues& values) const {
  std::string out;
  for (const Segment& s : segments_) {
    if (!s.is_param) {
      out += s.text;
    } else if (auto it = values.find(s.text); it != values.end()) {
      out += it->second;
    }
  }
  return out;
}

std::vector<std::string> CommandTemplate::references() const {
  std::vector<std::string> refs;
  for (const Segment& s : segments_) {
    if (s.is_param) refs.push_back(s.text);
  }
  return refs;
}

// --- resolving a request -----------------------------------------------------

const ParamSpec* CatalogAction::param(std::string_view name) const {
  for (const ParamSpec& p : params) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const CatalogAction* ActionCatalog::find(std::string_view name) const {
  for (const CatalogAction& a : actions_) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

namespace {

std::string describe(const ParamValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return quote_value(*s);
  if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  return std::get<bool>(v) ? "true" : "false";
}

ActionError invalid(const ParamSpec& spec, std::string message) {
  std::string field = "params." + spec.name;
  return {"invalid_params", field, fmt::format("{}: {}", field, message)};
}

// The canonical text of a value that passed its type, or why it did not.
std::variant<std::string, ActionError> check_value(const ParamSpec& spec, const ParamValue& v,
                                                   const ActionCatalog::DeviceExists& exists) {
  switch (spec.type) {
    case ParamType::kString:
    case ParamType::kDevice: {
      const auto* s = std::get_if<std::string>(&v);
      if (!s) return invalid(spec, fmt::format("expected a string, got {}", describe(v)));
      if (!RE2::FullMatch(*s, *spec.pattern)) {
        return invalid(
            spec, fmt::format("{} does not match ^{}$", quote_value(*s), spec.pattern->pattern()));
      }
      if (spec.type == ParamType::kDevice && !(exists && exists(*s))) {
        return invalid(spec, fmt::format("device {} is not in the inventory", quote_value(*s)));
      }
      return *s;
    }
    case ParamType::kEnum: {
      const auto* s = std::get_if<std::string>(&v);
      if (s && std::find(spec.values.begin(), spec.values.end(), *s) != spec.values.end()) {
        return *s;
      }
      return invalid(
          spec, fmt::format("{} is not one of [{}]", describe(v), fmt::join(spec.values, ", ")));
    }
    case ParamType::kInteger: {
      std::int64_t n = 0;
      if (const auto* i = std::get_if<std::int64_t>(&v)) {
        n = *i;
      } else if (const auto* s = std::get_if<std::string>(&v);
                 !s || !RE2::FullMatch(*s, R"((-?[0-9]{1,18}))", &n)) {
        // Alert labels are strings: "42" is accepted as an integer.
        return invalid(spec, fmt::format("expected an integer, got {}", describe(v)));
      }
      if (n < spec.min || n > spec.max) {
        return invalid(spec, fmt::format("{} is out of range [{}, {}]", n, spec.min, spec.max));
      }
      return std::to_string(n);
    }
  }
  return invalid(spec, "unsupported type");
}

}  // namespace

std::variant<ResolvedAction, ActionError> ActionCatalog::resolve(
    const CatalogAction& action, const std::map<std::string, ParamValue>& params,
    const DeviceExists& device_exists) const {
  for (const auto& [name, value] : params) {
    if (!action.param(name)) {
      const std::string field = "params." + name;
      return ActionError{"invalid_params", field,
                         fmt::format("{}: unknown parameter of action '{}'", field, action.name)};
    }
  }
  ResolvedAction out;
  out.action = &action;
  for (const ParamSpec& spec : action.params) {
    auto it = params.find(spec.name);
    if (it == params.end()) {
      if (spec.default_value) {
        out.params.emplace(spec.name, *spec.default_value);
        continue;
      }
      if (spec.required) return invalid(spec, "missing required parameter");
      continue;
    }
    auto checked = check_value(spec, it->second, device_exists);
    if (auto* err = std::get_if<ActionError>(&checked)) return std::move(*err);
    out.params.emplace(spec.name, std::move(std::get<std::string>(checked)));
  }
  for (const CommandTemplate& t : action.commands) out.commands.push_back(t.render(out.params));
  return out;
}

// --- loading -----------------------------------------------------------------

namespace {

const RE2& action_name_re() {
  static const RE2 re("[A-Za-z0-9_.:-]{1,128}");
  return re;
}
const RE2& param_name_re() {
  static const RE2 re("[A-Za-z_][A-Za-z0-9_]{0,63}");
  return re;
}

std::shared_ptr<const RE2> compile_pattern(const std::string& pattern) {
  RE2::Options opts;
  opts.set_log_errors(false);
  return std::make_shared<const RE2>(pattern, opts);
}

std::optional<ParamType> parse_type(std::string_view s) {
  if (s == "string") return ParamType::kString;
  if (s == "enum") return ParamType::kEnum;
  if (s == "integer") return ParamType::kInteger;
  if (s == "device") return ParamType::kDevice;
  return std::nullopt;
}

std::optional<ParamSpec> parse_param(const YAML::Node& node, const std::string& name,
                                     const std::string& path, ConfigErrors& errors) {
  YamlMap m(node, path, errors,
            {"type", "description", "pattern", "values", "min", "max", "required", "default"});
  if (!m.valid()) return std::nullopt;
  const std::size_t before = errors.all().size();
  ParamSpec p;
  p.name = name;
  if (!RE2::FullMatch(name, param_name_re())) {
    errors.add(node, path, "invalid parameter name (letters, digits and _; at most 64)");
  }
  auto type_text = m.string("type", true);
  if (type_text) {
    if (auto t = parse_type(*type_text)) {
      p.type = *t;
    } else {
      errors.add(
          m.node("type"), m.child_path("type"),
          fmt::format("unknown type '{}' (expected string, enum, integer or device)", *type_text));
    }
  }
  p.description = m.string("description").value_or("");
  const bool textual = p.type == ParamType::kString || p.type == ParamType::kDevice;
  if (m.has("pattern") && !textual) {
    errors.add(m.node("pattern"), m.child_path("pattern"), "only string and device take a pattern");
  }
  if (textual) {
    const std::string pattern = m.string("pattern").value_or(std::string(kDefaultParamPattern));
    p.pattern = compile_pattern(pattern);
    if (!p.pattern->ok()) {
      errors.add(m.node("pattern"), m.child_path("pattern"),
                 fmt::format("invalid pattern '{}': {}", pattern, p.pattern->error()));
    }
  }
  if (p.type == ParamType::kEnum) {
    p.values = m.string_list("values");
    if (p.values.empty()) {
      errors.add(m.has("values") ? m.node("values") : node, m.child_path("values"),
                 "an enum needs a non-empty list of values");
    }
  } else if (m.has("values")) {
    errors.add(m.node("values"), m.child_path("values"), "only enum takes values");
  }
  if (p.type == ParamType::kInteger) {
    if (auto v = m.integer("min", INT64_MIN, INT64_MAX)) p.min = *v;
    if (auto v = m.integer("max", INT64_MIN, INT64_MAX)) p.max = *v;
    if (p.min > p.max) errors.add(node, path, "min is greater than max");
  } else {
    for (std::string_view k : {"min", "max"}) {
      if (m.has(k)) errors.add(m.node(k), m.child_path(k), "only integer takes min and max");
    }
  }
  p.required = m.boolean("required").value_or(true);
  if (errors.all().size() != before) return std::nullopt;
  if (auto d = m.string("default")) {
    auto checked = check_value(p, std::string(*d), [](std::string_view) { return true; });
    if (auto* err = std::get_if<ActionError>(&checked)) {
      errors.add(m.node("default"), m.child_path("default"),
                 fmt::format("default does not pass its own type: {}", err->message));
      return std::nullopt;
    }
    p.default_value = std::get<std::string>(checked);
  }
  return p;
}

// Returns every declared name, valid or not, so a bad declaration is not
// reported again as an undeclared reference.
std::set<std::string> parse_params(const YamlMap& m, CatalogAction& a, ConfigErrors& errors) {
  std::set<std::string> declared;
  if (!m.has("params")) return declared;
  const YAML::Node node = m.node("params");
  if (!node.IsMap()) {
    errors.add(node, m.child_path("params"), "expected a mapping of parameter name to spec");
    return declared;
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string name = it->first.as<std::string>("");
    declared.insert(name);
    if (auto p = parse_param(it->second, name, m.child_path("params") + "." + name, errors)) {
      a.params.push_back(std::move(*p));
    }
  }
  return declared;
}

void parse_commands(const YamlMap& m, const std::set<std::string>& declared, CatalogAction& a,
                    ConfigErrors& errors) {
  const YAML::Node cmds = m.node("commands");
  if (!cmds.IsDefined() || !cmds.IsSequence() || cmds.size() == 0) {
    errors.add(cmds.IsDefined() ? cmds : m.node("name"), m.child_path("commands"),
               "expected a non-empty list of command templates");
    return;
  }
  for (std::size_t i = 0; i < cmds.size(); ++i) {
    const std::string cpath = fmt::format("{}[{}]", m.child_path("commands"), i);
    if (!cmds[i].IsScalar()) {
      errors.add(cmds[i], cpath, "expected a string");
      continue;
    }
    std::string err;
    auto t = CommandTemplate::parse(cmds[i].Scalar(), err);
    if (!t) {
      errors.add(cmds[i], cpath, err);
      continue;
    }
    for (const std::string& ref : t->references()) {
      if (!declared.contains(ref)) {
        errors.add(cmds[i], cpath, fmt::format("params.{} is not a declared parameter", ref));
      }
    }
    a.commands.push_back(std::move(*t));
  }
}

void parse_guards(const YamlMap& m, CatalogAction& a, ConfigErrors& errors) {
  a.timeout = m.duration("timeout");
  a.output_limit = m.size("output_limit");
  if (m.has("policy")) {
    YamlMap pm(m.node("policy"), m.child_path("policy"), errors, {"allow", "deny"});
    if (pm.valid()) {
      std::vector<std::string> errs;
      a.policy = CommandPolicy::compile(pm.string_list("allow"), pm.string_list("deny"), errs);
      for (const auto& e : errs) errors.add(m.node("policy"), pm.path(), e);
    }
  }
  if (m.has("redact")) {
    std::vector<std::string> errs;
    a.redact = OutputFilter::compile(m.string_list("redact"), errs);
    for (const auto& e : errs) errors.add(m.node("redact"), m.child_path("redact"), e);
  }
  if (auto ap = m.string("approval")) {
    if (*ap == "required") {
      a.approval = Approval::kRequired;
    } else if (*ap != "none") {
      errors.add(m.node("approval"), m.child_path("approval"),
                 fmt::format("unknown approval '{}' (expected none or required)", *ap));
    }
  }
}

void parse_action(const YAML::Node& node, const std::string& path, const std::string& file,
                  ActionCatalog& out, ConfigErrors& errors, std::set<std::string>& names) {
  YamlMap m(node, path, errors,
            {"name", "description", "params", "commands", "policy", "timeout", "output_limit",
             "redact", "approval"});
  if (!m.valid()) return;
  const std::size_t before = errors.all().size();
  CatalogAction a;
  a.file = file;
  a.line = node.Mark().line + 1;
  a.where = ConfigError{file, a.line, node.Mark().column + 1, path, ""};
  if (auto name = m.string("name", true)) {
    if (!RE2::FullMatch(*name, action_name_re())) {
      errors.add(m.node("name"), m.child_path("name"),
                 fmt::format("invalid action name '{}' (letters, digits, _ . : - only)", *name));
    } else if (!names.insert(*name).second) {
      errors.add(m.node("name"), m.child_path("name"),
                 fmt::format("duplicate action name '{}'", *name));
    }
    a.name = *name;
  }
  a.description = m.string("description").value_or("");
  const auto declared = parse_params(m, a, errors);
  parse_commands(m, declared, a, errors);
  parse_guards(m, a, errors);
  if (errors.all().size() == before) out.add(std::move(a));
}

void load_catalog_node(const YAML::Node& root, const std::string& file, ActionCatalog& out,
                       ConfigErrors& errors) {
  YamlMap top(root, "", errors, {"actions"});
  if (!top.valid()) return;
  const YAML::Node actions = top.node("actions");
  if (!actions.IsDefined() || !actions.IsSequence()) {
    errors.add(actions.IsDefined() ? actions : root, "actions", "expected a list of actions");
    return;
  }
  std::set<std::string> names;
  for (const auto& a : out.actions()) names.insert(a.name);
  for (std::size_t i = 0; i < actions.size(); ++i) {
    parse_action(actions[i], fmt::format("actions[{}]", i), file, out, errors, names);
  }
}

}  // namespace

void load_catalog_file(const std::string& path, ActionCatalog& out, ConfigErrors& errors) {
  ConfigErrors local(path);
  if (auto root = load_yaml_file(path, local)) load_catalog_node(*root, path, out, local);
  errors.append(local);
}

void load_catalog_text(const std::string& text, const std::string& file, ActionCatalog& out,
                       ConfigErrors& errors) {
  ConfigErrors local(file);
  try {
    load_catalog_node(YAML::Load(text), file, out, local);
  } catch (const YAML::Exception& e) {
    local.add(e.mark, "", fmt::format("YAML syntax error: {}", e.msg));
  }
  errors.append(local);
}

}  // namespace aiopsd::rules
