#!/usr/bin/env bash
# Smoke test of the test OpenID provider: start it on free loopback ports, read the
# discovery document and the JWKS, get client_credentials tokens (RS256 and ES256) with
# curl, decode them, rotate the keys, forge every bad token, check each against the JWKS
# with jose (the valid ones must verify, the forged ones must not), and stop it. Exits
# non-zero when any step or expectation fails.
#
#   tests/harness/oidc/smoke.sh      (after `npm ci` in tests/harness/oidc)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
[ -d node_modules/oidc-provider ] || { echo "smoke: run 'npm ci' in $here first" >&2; exit 2; }

tmp="$(mktemp -d -t oidc-smoke.XXXXXX)"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

node provider.mjs 0 0 </dev/null >"$tmp/stdout" 2>"$tmp/stderr" &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/stdout" ] && break; sleep 0.1; done
[ -s "$tmp/stdout" ] || { echo "smoke: provider not ready"; cat "$tmp/stderr"; exit 1; }
ready="$(head -1 "$tmp/stdout")"
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$ready" "$1"; }
issuer="$(field issuer)"; control="http://127.0.0.1:$(field control_port)"
echo "== ready: $ready"

echo "== discovery"
curl -fsS "$issuer/.well-known/openid-configuration" | python3 -c '
import json, sys; d = json.load(sys.stdin)
for k in ("issuer", "token_endpoint", "jwks_uri", "grant_types_supported", "id_token_signing_alg_values_supported"):
    print(f"  {k}: {d.get(k)}")'

show_jwks() {
  curl -fsS "$issuer/jwks" | python3 -c '
import json, sys
for k in json.load(sys.stdin)["keys"]:
    print("  kid=%-20s kty=%-3s alg=%-5s %s" % (k["kid"], k["kty"], k.get("alg"), "crv=" + k["crv"] if "crv" in k else "n=%d bits" % (len(k["n"]) * 6 // 8 * 8)))'
}
echo "== jwks"; show_jwks

decode() {  # token -> one line with the interesting header and payload fields
  python3 -c '
import base64, json, sys, time
h, p, s = sys.argv[1].split(".")
dec = lambda x: json.loads(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))
h, p = dec(h), dec(p)
now = int(time.time())
out = {"alg": h.get("alg"), "typ": h.get("typ"), "kid": h.get("kid"), "sub": p.get("sub"), "aud": p.get("aud"),
       "iss": p.get("iss"), "groups": p.get("groups"), "exp-now": p["exp"] - now if "exp" in p else None}
if "nbf" in p: out["nbf-now"] = p["nbf"] - now
print("  " + json.dumps(out) + "  sig=%dB" % len(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))))' "$1"
}
token() {  # client_id -> access token from the real token endpoint
  curl -fsS -u "$1:$(field client_secret)" -d grant_type=client_credentials -d scope=aiopsd:read \
    "$(field token_endpoint)" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

echo "== client_credentials tokens (token endpoint)"
rs_old="$(token "$(field client_id)")"; decode "$rs_old"
es_old="$(token "$(field client_id_es256)")"; decode "$es_old"

echo "== groups claim set to ops,admins (control port)"
curl -fsS -X POST "$control/groups?set=ops,admins"
decode "$(token "$(field client_id)")"

echo "== rotate (old keys stay published)"
curl -fsS -X POST "$control/rotate"
rs_new="$(token "$(field client_id)")"; decode "$rs_new"
es_new="$(token "$(field client_id_es256)")"; decode "$es_new"
show_jwks

echo "== forged tokens (control port; RS256 unless noted)"
kinds="valid expired nbf wrong-aud wrong-iss bad-sig alg-none hs256-pubkey unknown-kid alg-kid-mismatch"
: >"$tmp/tokens"
for k in $kinds; do
  t="$(curl -fsS "$control/forge/$k")"; echo "$k $t" >>"$tmp/tokens"; echo "-- $k"; decode "$t"
done
for k in valid bad-sig expired; do
  t="$(curl -fsS "$control/forge/$k?alg=ES256")"; echo "$k/ES256 $t" >>"$tmp/tokens"; echo "-- $k ES256"; decode "$t"
done
echo "-- stdin/HTTP error path"; curl -sS "$control/forge/nope"

echo "== verify every token against the JWKS with jose (RS256/ES256 allow-list, iss, aud)"
{ echo "issued-rs256-g1 $rs_old"; echo "issued-es256-g1 $es_old"; echo "issued-rs256-g2 $rs_new"; echo "issued-es256-g2 $es_new"; cat "$tmp/tokens"; } >"$tmp/all"
verify() {  # $1: "issued-valid-ok" = issued-* and valid* must verify, the rest not; "none-ok"
  EXPECT="$1" ISSUER="$issuer" AUD="$(field audience)" node --input-type=module - "$tmp/all" <<'EOF'
import { readFileSync } from 'node:fs';
import * as jose from 'jose';
const jwks = jose.createRemoteJWKSet(new URL(`${process.env.ISSUER}/jwks`), { cooldownDuration: 0 });
let wrong = 0;
for (const line of readFileSync(process.argv[2], 'utf8').trim().split('\n')) {
  const [name, token] = line.split(' ');
  const expectOk = process.env.EXPECT === 'issued-valid-ok' && /^(issued|valid)/.test(name);
  let ok = true;
  let why = '';
  try {
    await jose.jwtVerify(token, jwks, { issuer: process.env.ISSUER, audience: process.env.AUD,
      algorithms: ['RS256', 'ES256'], typ: 'at+jwt' });
  } catch (e) { ok = false; why = ` ${e.code}: ${e.message}`; }
  if (ok !== expectOk) wrong += 1;
  console.log(`  ${name.padEnd(20)} ${ok ? 'OK' : 'REJECTED'}${why}${ok !== expectOk ? '   <-- UNEXPECTED' : ''}`);
}
process.exit(wrong ? 1 : 0);
EOF
}
verify issued-valid-ok

echo "== rotate drop (only the new keys published): tokens of the old keys no longer verify"
curl -fsS -X POST "$control/rotate?drop=1"
show_jwks
grep '^issued' "$tmp/all" >"$tmp/issued"; mv "$tmp/issued" "$tmp/all"; verify none-ok

echo "== SIGUSR2 rotates too"
kill -USR2 "$pid"
for _ in $(seq 50); do curl -fsS "$control/state" | grep -q '"generation":4' && break; sleep 0.1; done
curl -fsS "$control/state" | tee "$tmp/state"; grep -q '"generation":4' "$tmp/state"

echo "== stop (SIGTERM)"
kill -TERM "$pid"; rc=0; wait "$pid" || rc=$?; pid=""
echo "  exit status $rc"
echo "== provider stderr"; sed 's/^/  /' "$tmp/stderr"
[ "$rc" -eq 0 ]
