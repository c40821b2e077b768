#!/usr/bin/env node
// Test-only OpenID provider for aiopsd's OIDC / JWT access-token tests.
//
//   node provider.mjs [PORT [CONTROL_PORT]]      (0 = pick a free port; see README.md)
//
// A real `oidc-provider` (client_credentials grant, JWT access tokens through the
// resourceIndicators feature) on 127.0.0.1, with RSA (RS256) and EC P-256 (ES256)
// signing keys generated at start (nothing on disk), plus test-only controls on a
// second loopback port, on stdin and on SIGUSR2: rotate the keys without a restart,
// change the groups claim, and forge bad tokens with the provider's current keys.
//
// stdout carries only the protocol: one JSON "ready" line, then one line per stdin
// command. Everything else (oidc-provider notices, errors) goes to stderr.

import * as crypto from 'node:crypto';
import * as http from 'node:http';
import * as readline from 'node:readline';
import { readFileSync } from 'node:fs';

// oidc-provider 9 needs crypto.hash (Node >= 20.12) and jose 6 a global WebCrypto: Debian 12's
// own nodejs (18.x) has neither. Say so plainly instead of failing on the first request.
if (typeof crypto.hash !== 'function') {
  console.error(`provider.mjs: Node.js >= 20.12 required (this is ${process.version})`);
  process.exit(3);
}

// oidc-provider prints its notices with console.info (stdout): keep stdout for the protocol.
// Its warnings (stderr) repeat on every rotation (a new Provider): print each one once.
for (const m of ['log', 'info', 'debug']) console[m] = (...a) => console.error(...a);
const warned = new Set();
const warn = console.warn.bind(console);
console.warn = (...a) => { const k = a.join(' '); if (!warned.has(k)) { warned.add(k); warn(...a); } };

const { default: Provider, errors } = await import('oidc-provider');
const jose = await import('jose');

// ---- configuration (argv, then env, then fixed test values) ---------------------------
const env = process.env;
const portArg = (v, name) => {
  const n = Number(v ?? 0);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`bad ${name}: ${v}`);
  return n;
};
const PORT = portArg(process.argv[2] ?? env.OIDC_PORT, 'port');
const CONTROL_PORT = portArg(process.argv[3] ?? env.OIDC_CONTROL_PORT, 'control port');
const CLIENT_ID = env.OIDC_CLIENT_ID || 'aiopsd-test';
const CLIENT_SECRET = env.OIDC_CLIENT_SECRET || 'aiopsd-test-secret';
const AUDIENCE = env.OIDC_AUDIENCE || 'urn:aiopsd';
const GROUPS_CLAIM = env.OIDC_GROUPS_CLAIM || 'groups';
const TOKEN_TTL = Number(env.OIDC_TOKEN_TTL || 300);
const SCOPES = 'aiopsd:read aiopsd:write';
const parseGroups = (s) => (s ?? '').split(',').map((g) => g.trim()).filter(Boolean);
let groups = parseGroups(env.OIDC_GROUPS ?? 'aiopsd-operators');

// Two clients with the same secret: CLIENT_ID gets RS256 tokens, CLIENT_ID-es256 ES256.
const ES_CLIENT_ID = `${CLIENT_ID}-es256`;
const algForClient = (clientId) => (clientId === ES_CLIENT_ID ? 'ES256' : 'RS256');

// ---- keys ----------------------------------------------------------------------------
let generation = 0;
let current;      // { RS256: privateJwk, ES256: privateJwk }
let previous = null; // still published after a plain `rotate`, dropped by `rotate drop`

function newKeys() {
  generation += 1;
  const tag = () => crypto.randomBytes(4).toString('hex');
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return {
    RS256: { ...rsa, kid: `rs256-g${generation}-${tag()}`, alg: 'RS256', use: 'sig' },
    ES256: { ...ec, kid: `es256-g${generation}-${tag()}`, alg: 'ES256', use: 'sig' },
  };
}
const publicJwk = ({ d, p, q, dp, dq, qi, ...pub }) => pub;
const kids = () => ({
  RS256: current.RS256.kid,
  ES256: current.ES256.kid,
  published: publishedKeys().map((k) => k.kid),
});
const publishedKeys = () => [current.RS256, current.ES256, ...(previous ? [previous.RS256, previous.ES256] : [])];

// ---- the provider (rebuilt on rotation behind the same HTTP server) --------------------
let ISSUER;
let provider;
let callback;

function buildProvider() {
  const client = (client_id) => ({
    client_id,
    client_secret: CLIENT_SECRET,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: SCOPES,
  });
  const p = new Provider(ISSUER, {
    clients: [client(CLIENT_ID), client(ES_CLIENT_ID)],
    jwks: { keys: publishedKeys() },
    scopes: ['openid', ...SCOPES.split(' ')],
    claims: { openid: ['sub'] },
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    clientBasedCORS: () => false,
    ttl: { ClientCredentials: TOKEN_TTL, AccessToken: TOKEN_TTL },
    // Extra claims for every token: the configurable groups claim.
    extraTokenClaims: async () => (groups.length ? { [GROUPS_CLAIM]: [...groups] } : undefined),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resourceIndicator, c) => {
          if (resourceIndicator !== AUDIENCE) throw new errors.InvalidTarget();
          const alg = algForClient(c.clientId);
          return {
            scope: SCOPES,
            audience: AUDIENCE,
            accessTokenTTL: TOKEN_TTL,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg, kid: current[alg].kid } },
          };
        },
      },
    },
  });
  p.on('server_error', (_ctx, err) => console.error('oidc-provider server_error:', err));
  provider = p;
  callback = p.callback();
}

function rotate(drop) {
  previous = drop ? null : current;
  current = newKeys();
  buildProvider();
  return { rotated: true, generation, kids: kids() };
}

// ---- forged tokens (negative tests) ----------------------------------------------------
const b64u = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
const FORGE_KINDS = ['valid', 'expired', 'nbf', 'wrong-aud', 'wrong-iss', 'bad-sig', 'alg-none',
  'hs256-pubkey', 'unknown-kid', 'alg-kid-mismatch'];

async function forge(kind, alg = 'RS256', extra = {}) {
  if (!FORGE_KINDS.includes(kind)) throw new Error(`unknown forge kind "${kind}" (${FORGE_KINDS.join(', ')})`);
  if (alg !== 'RS256' && alg !== 'ES256') throw new Error(`alg must be RS256 or ES256, not "${alg}"`);
  const now = Math.floor(Date.now() / 1000);
  const clientId = alg === 'ES256' ? ES_CLIENT_ID : CLIENT_ID;
  const claims = {
    jti: crypto.randomBytes(16).toString('base64url'),
    sub: clientId,
    iat: now,
    exp: now + TOKEN_TTL,
    scope: SCOPES,
    client_id: clientId,
    iss: ISSUER,
    aud: AUDIENCE,
    ...(groups.length ? { [GROUPS_CLAIM]: [...groups] } : {}),
  };
  switch (kind) {
    case 'expired': claims.iat = now - 900; claims.exp = now - 600; break;
    case 'nbf': claims.nbf = now + 600; claims.exp = now + 1200; break;
    case 'wrong-aud': claims.aud = 'urn:not-aiopsd'; break;
    case 'wrong-iss': claims.iss = `${ISSUER}/not-this-issuer`; break;
    default:
  }
  Object.assign(claims, extra);
  const signWith = async (jwk, header) => new jose.SignJWT(claims)
    .setProtectedHeader(header).sign(await jose.importJWK(jwk, header.alg));

  const key = current[alg];
  switch (kind) {
    case 'alg-none': // unsigned: empty signature part
      return `${b64u({ alg: 'none', typ: 'at+jwt', kid: key.kid })}.${b64u(claims)}.`;
    case 'hs256-pubkey': { // HMAC keyed with the RSA public key's PEM (SPKI, with its final newline)
      const pem = crypto.createPublicKey({ key: publicJwk(current.RS256), format: 'jwk' })
        .export({ type: 'spki', format: 'pem' });
      return new jose.SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: current.RS256.kid })
        .sign(new TextEncoder().encode(pem));
    }
    case 'unknown-kid': { // well-formed, signed by a key the JWKS has never had
      const other = crypto.generateKeyPairSync(alg === 'ES256' ? 'ec' : 'rsa',
        alg === 'ES256' ? { namedCurve: 'P-256' } : { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
      return signWith(other, { alg, typ: 'at+jwt', kid: `${alg.toLowerCase()}-unknown-${crypto.randomBytes(4).toString('hex')}` });
    }
    case 'alg-kid-mismatch': // a valid ES256 signature by the EC key, but the header names the RSA kid
      return signWith(current.ES256, { alg: 'ES256', typ: 'at+jwt', kid: current.RS256.kid });
    case 'bad-sig': { // flip one bit of the decoded signature (not just a base64 padding bit)
      const [h, pl, s] = (await signWith(key, { alg, typ: 'at+jwt', kid: key.kid })).split('.');
      const sig = Buffer.from(s, 'base64url');
      sig[sig.length >> 1] ^= 0x01;
      return `${h}.${pl}.${sig.toString('base64url')}`;
    }
    default:
      return signWith(key, { alg, typ: 'at+jwt', kid: key.kid });
  }
}

// ---- commands (shared by stdin and the control port) -----------------------------------
// Returns [isToken, value]: forged tokens are printed bare, everything else as JSON.
async function command(words, body) {
  const [cmd, ...args] = words;
  switch (cmd) {
    case 'rotate':
      if (args.length > 1 || (args[0] && args[0] !== 'drop')) throw new Error('usage: rotate [drop]');
      return [false, rotate(args[0] === 'drop')];
    case 'forge': {
      const [kind, alg, json] = args;
      const extra = json ? JSON.parse(json) : (body || {});
      return [true, await forge(kind, alg || 'RS256', extra)];
    }
    case 'groups':
      groups = parseGroups(args.join(','));
      return [false, { groups }];
    case 'state':
      return [false, { issuer: ISSUER, generation, kids: kids(), groups, groups_claim: GROUPS_CLAIM }];
    default:
      throw new Error(`unknown command "${cmd ?? ''}" (rotate [drop] | forge KIND [ALG] [JSON] | groups [a,b] | state)`);
  }
}

// ---- servers -------------------------------------------------------------------------
const listen = (srv, port) => new Promise((resolve, reject) => {
  srv.once('error', reject);
  srv.listen(port, '127.0.0.1', () => resolve(srv.address().port));
});

const server = http.createServer((req, res) => callback(req, res));
const port = await listen(server, PORT);
ISSUER = `http://127.0.0.1:${port}`;
current = newKeys();
buildProvider();

// Control port: POST /rotate[?drop=1], GET|POST /forge/KIND[?alg=ES256] (POST body: JSON
// claims to override), POST /groups?set=a,b, GET /state.
const control = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const raw = Buffer.concat(chunks).toString();
  try {
    const parts = url.pathname.split('/').filter(Boolean);
    let words;
    if (parts[0] === 'rotate' && req.method === 'POST') words = ['rotate', ...(url.searchParams.get('drop') === '1' ? ['drop'] : [])];
    else if (parts[0] === 'forge' && parts.length === 2) words = ['forge', parts[1], url.searchParams.get('alg') || 'RS256'];
    else if (parts[0] === 'groups' && req.method === 'POST') words = ['groups', url.searchParams.get('set') ?? ''];
    else if (parts[0] === 'state' && req.method === 'GET') words = ['state'];
    else { res.writeHead(404, { 'content-type': 'application/json' }); res.end('{"error":"not found"}\n'); return; }
    const [isToken, value] = await command(words, raw ? JSON.parse(raw) : undefined);
    res.writeHead(200, { 'content-type': isToken ? 'text/plain' : 'application/json' });
    res.end(`${isToken ? value : JSON.stringify(value)}\n`);
  } catch (e) {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify({ error: e.message })}\n`);
  }
});
const controlPort = await listen(control, CONTROL_PORT);

const out = (line) => process.stdout.write(`${line}\n`);
out(JSON.stringify({
  ready: true,
  issuer: ISSUER,
  port,
  control_port: controlPort,
  token_endpoint: `${ISSUER}/token`,
  jwks_uri: `${ISSUER}/jwks`,
  discovery: `${ISSUER}/.well-known/openid-configuration`,
  client_id: CLIENT_ID,
  client_id_es256: ES_CLIENT_ID,
  client_secret: CLIENT_SECRET,
  audience: AUDIENCE,
  groups_claim: GROUPS_CLAIM,
  kids: kids(),
  pid: process.pid,
}));

// stdin: one command a line, one answer line each. EOF (e.g. stdin = /dev/null) is not a stop.
// Not read when stdin is a terminal of which we are not the foreground process group (a
// fixture that starts us in our own process group from an interactive ctest): reading it
// would stop us with SIGTTIN. OIDC_STDIN=0 turns stdin commands off altogether.
function stdinUsable() {
  if (env.OIDC_STDIN === '0') return false;
  if (!process.stdin.isTTY) return true;
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // state ppid pgrp session tty_nr tpgid
    return f[2] === f[5];
  } catch {
    return false;
  }
}
let queue = Promise.resolve();
if (stdinUsable()) readline.createInterface({ input: process.stdin, terminal: false }).on('line', (line) => {
  const words = line.trim().split(/\s+/).filter(Boolean);
  if (!words.length) return;
  // forge KIND ALG {json...}: the JSON may contain spaces
  if (words[0] === 'forge' && words.length > 4) words.splice(3, words.length - 3, words.slice(3).join(' '));
  queue = queue.then(async () => {
    try {
      const [isToken, value] = await command(words);
      out(isToken ? value : JSON.stringify(value));
    } catch (e) {
      out(JSON.stringify({ error: e.message }));
    }
  });
});

process.on('SIGUSR2', () => { console.error('SIGUSR2: rotate', JSON.stringify(rotate(false))); });

let stopping = false;
const stop = (sig) => {
  if (stopping) return;
  stopping = true;
  console.error(`${sig}: stopping`);
  server.closeAllConnections?.();
  control.closeAllConnections?.();
  let open = 2;
  const done = () => { open -= 1; if (open === 0) process.exit(0); };
  server.close(done);
  control.close(done);
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
