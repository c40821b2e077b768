// The json-rules-engine side of the rule-evaluation comparison
// (bench/compare/rules_vs_json_rules_engine.sh). Loads the rules and events
// compare_inputs wrote, runs every event through Engine.run() (which
// evaluates every rule against the event's facts), and prints one JSON object:
// events evaluated, seconds, events/s and the number of rule matches.
//
//   node rules_eval.js DIR [MAX_EVENTS] [MAX_SECONDS]
//
// Run with NODE_PATH pointing at the node_modules the script installed.
'use strict';

const fs = require('fs');
const path = require('path');
const { Engine } = require('json-rules-engine');

async function main() {
  const [dir, maxEventsArg = '1000', maxSecondsArg = '60'] = process.argv.slice(2);
  if (!dir) {
    console.error('usage: node rules_eval.js DIR [MAX_EVENTS] [MAX_SECONDS]');
    process.exit(2);
  }
  const rules = JSON.parse(fs.readFileSync(path.join(dir, 'rules.json'), 'utf8'));
  const events = JSON.parse(fs.readFileSync(path.join(dir, 'events.json'), 'utf8'));
  const maxEvents = Math.min(Number(maxEventsArg), events.length);
  const maxSeconds = Number(maxSecondsArg);

  const engine = new Engine([], { allowUndefinedFacts: true });
  // aiopsd's regex matchers are RE2 patterns, fully anchored; the same
  // patterns as an anchored RegExp, compiled once each.
  const compiled = new Map();
  engine.addOperator('matchesRegex', (value, pattern) => {
    let re = compiled.get(pattern);
    if (!re) {
      re = new RegExp(`^(?:${pattern})$`);
      compiled.set(pattern, re);
    }
    return typeof value === 'string' && re.test(value);
  });
  for (const r of rules) engine.addRule(r);

  // Warm-up, untimed: the JIT compiles the hot paths on these.
  const warmup = Math.min(20, events.length);
  for (let i = 0; i < warmup; i++) await engine.run(events[i]);

  let matches = 0;
  let n = 0;
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(Math.round(maxSeconds * 1e9));
  for (; n < maxEvents; n++) {
    const { events: fired } = await engine.run(events[n]);
    matches += fired.length;
    if (process.hrtime.bigint() >= deadline) {
      n++;
      break;
    }
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const version = require('json-rules-engine/package.json').version;
  console.log(JSON.stringify({
    engine: 'json-rules-engine',
    version,
    node: process.versions.node,
    rules: rules.length,
    events: n,
    seconds,
    events_per_s: n / seconds,
    ms_per_event: (seconds * 1e3) / n,
    matches,
  }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
