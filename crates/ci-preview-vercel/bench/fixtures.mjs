// Writes the fixtures of the exec -> first verified 200 comparison into DIR: a fresh RSA key's
// public JWKS (static keys: nothing is fetched), a GitHub-Actions-shaped token signed with it,
// a FLAGS_SECRET and a policy trusting them. Node's own crypto only, no npm install.
// Usage: node fixtures.mjs DIR
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
if (!dir) throw new Error('usage: node fixtures.mjs DIR');
fs.mkdirSync(dir, { recursive: true });
const kid = 'first-request-kid';
const iss = 'https://token.actions.githubusercontent.com';
const aud = 'https://preview.example/api/~/ci/flags/encrypt-override';
const repo = 'example-org/example-repo';
const workflow = `${repo}/.github/workflows/ci.yml`;
const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
const b64u = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const claims = {
  jti: crypto.randomUUID(), sub: `repo:${repo}:pull_request`, aud, iss,
  iat: now - 5, nbf: now - 5, exp: now + 500, // within the verifier's 600 s lifetime cap
  ref: 'refs/pull/12/merge', sha: 'a'.repeat(40), repository: repo,
  repository_owner: 'example-org', repository_owner_id: '1234567', repository_id: '7654321',
  run_id: '9876543210', run_number: '42', run_attempt: '1', actor: 'octocat', actor_id: '1111111',
  event_name: 'pull_request', ref_type: 'branch', workflow: 'CI',
  workflow_ref: `${workflow}@refs/pull/12/merge`, workflow_sha: 'b'.repeat(40),
  job_workflow_ref: `${workflow}@refs/pull/12/merge`, job_workflow_sha: 'b'.repeat(40),
  runner_environment: 'github-hosted',
};
const input = `${b64u({ alg: 'RS256', typ: 'JWT', kid })}.${b64u(claims)}`;
const signature = crypto.sign('sha256', Buffer.from(input), privateKey).toString('base64url');
const write = (name, text) => fs.writeFileSync(path.join(dir, name), text);
write('jwks.json', JSON.stringify({ keys: [jwk] }));
write('token.txt', `${input}.${signature}`);
write('secret.b64u', crypto.randomBytes(32).toString('base64url'));
write('policy.toml', `[issuer]
url = "${iss}"
jwks_file = "jwks.json"

[endpoints."flags/encrypt-override"]
audience = "${aud}"
repositories = ["${repo}"]
repository_owner_ids = ["1234567"]
workflows = ["${workflow}"]
`);
