// The TypeScript prototype's `POST /api/~/ci/flags/encrypt-override` route, on plain node:http so
// it runs without Next.js: what a team would deploy instead of ci-preview-server, and therefore
// the figure `cargo xtask bench --load` compares the Rust server against.
//
// Same steps and answers as the prototype (see system-docs/CONTRACT.md for the contract both
// serve): production → 404; no x-github-oidc-token → 401; jose `jwtVerify` with the issuer and
// the endpoint's audience → 401; `repository` not allowed → 403 repo_mismatch; workflow not
// allowed → 401; body not JSON or `flags` not an object → 400; FLAGS_SECRET unset → 500; else
// `{cookie}` from the Flags SDK's own `encryptOverrides`. The prototype fetched GitHub's keys
// with `createRemoteJWKSet`, which caches them; the benchmark has no network, so the keys come
// from a local JWKS file, which is what the cached set amounts to once warm.
//
// Env: PORT (8787), FIXTURES (folder made by make-fixtures.mjs, default ./fixtures),
// FLAGS_SECRET (default: the fixtures' one), VERCEL_ENV.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { encryptOverrides } from 'flags';

const fixtures = process.env.FIXTURES ?? new URL('./fixtures', import.meta.url).pathname;
const read = (name) => fs.readFileSync(path.join(fixtures, name), 'utf8');
const meta = JSON.parse(read('meta.json'));
const keys = createLocalJWKSet(JSON.parse(read('jwks.json')));
process.env.FLAGS_SECRET ??= read('flags-secret.txt').trim();

const ROUTE = '/api/~/ci/flags/encrypt-override';
const ISSUER = meta.iss;
const AUDIENCE = meta.aud;
const ALLOWED_REPOSITORIES = [meta.repository];
const ALLOWED_WORKFLOW_REFS = [meta.workflow];

// ci-oidc.ts of the prototype: verify, then the repository, then the workflow.
async function verifyGitHubActionsOIDC(token) {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, keys, { issuer: ISSUER, audience: AUDIENCE }));
  } catch {
    return { ok: false, reason: 'invalid_token' };
  }
  if (typeof payload.repository !== 'string' || !ALLOWED_REPOSITORIES.includes(payload.repository)) {
    return { ok: false, reason: 'repo_mismatch' };
  }
  const workflowRef = payload.workflow_ref;
  if (typeof workflowRef !== 'string' || !ALLOWED_WORKFLOW_REFS.some((p) => workflowRef.startsWith(p))) {
    return { ok: false, reason: 'workflow_mismatch' };
  }
  return { ok: true, payload };
}

function json(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function readText(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

// route.ts of the prototype, step for step.
async function POST(req, res) {
  if (process.env.VERCEL_ENV === 'production') {
    res.writeHead(404, { 'content-type': 'text/plain' });
    return res.end('Not Found');
  }
  const token = req.headers['x-github-oidc-token'];
  if (!token) return json(res, 401, { error: 'unauthorized' });
  const verification = await verifyGitHubActionsOIDC(token);
  if (!verification.ok) {
    if (verification.reason === 'repo_mismatch') return json(res, 403, { error: 'forbidden', reason: 'repo_mismatch' });
    return json(res, 401, { error: 'unauthorized' });
  }
  let body;
  try {
    body = JSON.parse(await readText(req));
  } catch {
    return json(res, 400, { error: 'bad_request' });
  }
  if (!body || typeof body !== 'object' || !('flags' in body) || typeof body.flags !== 'object' || body.flags === null) {
    return json(res, 400, { error: 'bad_request' });
  }
  const flagsSecret = process.env.FLAGS_SECRET;
  if (!flagsSecret) return json(res, 500, { error: 'misconfigured' });
  const cookie = await encryptOverrides(body.flags, flagsSecret);
  return json(res, 200, { cookie });
}

const server = http.createServer((req, res) => {
  const url = req.url.split('?')[0];
  if (url === ROUTE && req.method === 'POST') {
    POST(req, res).catch(() => res.headersSent || json(res, 500, { error: 'internal' }));
  } else if (url === '/healthz') {
    json(res, 200, { ok: true }); // the HTTP floor: no crypto
  } else {
    json(res, 404, { error: 'not_found' });
  }
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 8787), '127.0.0.1', () => {
  console.log(`node reference listening on http://127.0.0.1:${server.address().port}`);
});
