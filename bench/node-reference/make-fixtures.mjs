// Writes throwaway benchmark material into ./fixtures (or $FIXTURES): an RS256 key pair whose
// public half sits in a two-key JWKS (GitHub's has several), the issuer/audience/repository/
// workflow both servers are configured with, and a FLAGS_SECRET. Nothing here is a real secret;
// run-bench.sh makes it once per scratch folder.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';

const dir = process.env.FIXTURES ?? new URL('./fixtures', import.meta.url).pathname;
fs.mkdirSync(dir, { recursive: true });
const publicJwk = async (kid) => {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  return { kid, pub: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }, priv: await exportJWK(privateKey) };
};
const signing = await publicJwk('bench-key-1');
const other = await publicJwk('bench-key-0');
const repository = 'example-org/example-repo';
const write = (name, text) => fs.writeFileSync(path.join(dir, name), text);
write('jwks.json', JSON.stringify({ keys: [other.pub, signing.pub] }));
write('private.jwk.json', JSON.stringify({ ...signing.priv, kid: signing.kid }));
write('flags-secret.txt', crypto.randomBytes(32).toString('base64url'));
write(
  'meta.json',
  JSON.stringify({
    iss: 'https://token.actions.githubusercontent.com',
    aud: 'https://flags.example.com',
    repository,
    workflow: `${repository}/.github/workflows/ci.yml`,
    kid: signing.kid,
  }),
);
console.log(`fixtures written to ${dir}`);
