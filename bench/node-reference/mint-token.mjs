// Prints a GitHub-Actions-shaped OIDC token signed with the fixtures' key, lifetime 300 s as
// GitHub mints them (the Rust server refuses longer-lived tokens), so a load run must finish
// within five minutes of minting. Usage: node mint-token.mjs > token.txt
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SignJWT, importJWK } from 'jose';

const dir = process.env.FIXTURES ?? new URL('./fixtures', import.meta.url).pathname;
const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8'));
const key = await importJWK(JSON.parse(fs.readFileSync(path.join(dir, 'private.jwk.json'), 'utf8')), 'RS256');
const repo = meta.repository;
const ref = 'refs/heads/main';
const now = Math.floor(Date.now() / 1000);
const token = await new SignJWT({
  jti: crypto.randomUUID(),
  sub: `repo:${repo}:ref:${ref}`,
  ref,
  sha: 'a'.repeat(40),
  repository: repo,
  repository_id: '7654321',
  repository_owner: repo.split('/')[0],
  repository_owner_id: '1234567',
  repository_visibility: 'private',
  run_id: '9876543210',
  run_number: '42',
  run_attempt: '1',
  actor: 'octocat',
  actor_id: '1111111',
  workflow: 'CI',
  event_name: 'push',
  ref_type: 'branch',
  ref_protected: 'true',
  head_ref: '',
  base_ref: '',
  workflow_ref: `${meta.workflow}@${ref}`,
  workflow_sha: 'b'.repeat(40),
  job_workflow_ref: `${meta.workflow}@${ref}`,
  job_workflow_sha: 'b'.repeat(40),
  runner_environment: 'github-hosted',
})
  .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: meta.kid })
  .setIssuer(meta.iss)
  .setAudience(meta.aud)
  .setIssuedAt(now)
  .setNotBefore(now - 600)
  .setExpirationTime(now + 300)
  .sign(key);
process.stdout.write(token);
