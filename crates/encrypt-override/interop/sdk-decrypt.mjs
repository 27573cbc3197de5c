#!/usr/bin/env node
// Asks the real Flags SDK (`decryptOverrides` of flags@4.3.1) what it makes of one cookie, for the
// live round trip in crates/encrypt-override/tests/sdk_roundtrip.rs and for a person checking a
// cookie by hand. See README.md in this folder for the install step.
//
//   FLAGS_SECRET=... FLAGS_SDK_DIR=DIR node sdk-decrypt.mjs TOKEN   (or the token on stdin)
//
// TOKEN may also be a whole Cookie header holding `vercel-flag-overrides=...`.
// Prints the overrides as one line of JSON and exits 0; otherwise says why on stderr, exits 1.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPackage } from './sdk-load.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const die = (why) => {
  process.stderr.write(`sdk-decrypt: ${why}\n`);
  process.exit(1);
};

let input = process.argv[2];
if (input === undefined || input === '-') input = fs.readFileSync(0, 'utf8');
input = input.trim();
const inCookieHeader = /(?:^|[;\s])vercel-flag-overrides=([^;\s]*)/.exec(input);
const token = inCookieHeader ? inCookieHeader[1] : input;
if (!token) die('no token given');
const secret = process.env.FLAGS_SECRET;
if (!secret) die('FLAGS_SECRET is not set');

const sdk = await loadPackage('flags', [process.env.FLAGS_SDK_DIR, process.cwd(), here]);
if (!sdk) die('the "flags" package is not installed: `npm install --prefix DIR flags@4.3.1`, then FLAGS_SDK_DIR=DIR');

let overrides;
try {
  overrides = await sdk.module.decryptOverrides(token, secret);
} catch (err) {
  die(`decryptOverrides threw (flags ${sdk.version}): ${err?.message ?? err}`);
}
// The SDK resolves to undefined for every refusal: wrong secret, tampering, expiry, purpose.
if (overrides === undefined) die(`flags ${sdk.version} refused the token (decryptOverrides gave undefined)`);
process.stdout.write(`${JSON.stringify(overrides)}\n`);
