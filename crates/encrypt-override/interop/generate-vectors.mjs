#!/usr/bin/env node
// Records what the real Flags SDK (flags@4.3.1, and @vercel/flags@3.1.1 for the legacy section)
// does with override cookies, into flags-sdk-vectors.json beside this script. The Rust codec's
// tests (crates/encrypt-override/src/tests/vectors.rs) replay every entry, so the file is the
// evidence that our cookies and the SDK's are the same format. How to run it: README.md here.
//
// Every outcome below is what the SDK itself answered at generation time; nothing is written
// down by hand. Tokens the SDK makes carry a random IV and an `exp` one year out, so two runs
// differ; the `deterministic` section fixes the IV and `exp` and is stable byte for byte.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { loadPackage } from './sdk-load.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const from = [process.env.FLAGS_SDK_DIR, process.cwd(), here];
const sdk = await loadPackage('flags', from);
if (!sdk) throw new Error('install the SDK first: `npm install` in this folder (see README.md)');
const jose = await loadPackage('jose', [sdk.dir, ...from]); // the copy the SDK itself imports
const legacy = await loadPackage('legacy-flags', from);
if (!legacy) throw new Error('@vercel/flags@3.1.1 (alias legacy-flags) is missing: `npm install` here');
const { encryptOverrides, decryptOverrides } = sdk.module;
const { jwtDecrypt, decodeProtectedHeader, CompactEncrypt, EncryptJWT } = jose.module;

// Two fixed secrets, each `crypto.randomBytes(32).toString('base64url')` once.
const SECRET = {
  A: 'hG5wE3TPcsmyyblrMGd2sFMUeOOl3nKThRtZNbHY1Qo',
  B: 'Q0lfMrg7Ctm0aLSGYQK1x6TfmmDIaQbC-d4sYm0WxV8',
};
const keyBytes = (secret) => new Uint8Array(Buffer.from(secret, 'base64url'));
const KEY_A = keyBytes(SECRET.A);
const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
const FAR_EXP = 4102444800; // 2100-01-01T00:00:00Z, for tokens that must outlive the file
const unixNow = () => Math.floor(Date.now() / 1000);
const SDK_HEADER = '{"alg":"dir","enc":"A256GCM"}';

/** A compact JWE (dir, AES-256-GCM) built by hand, so headers and claims can be anything. */
function handSealed({ header = SDK_HEADER, claims, key = KEY_A, iv = crypto.randomBytes(12) }) {
  const protectedB64 = b64url(Buffer.from(header));
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(protectedB64, 'ascii'));
  const plaintext = typeof claims === 'string' || Buffer.isBuffer(claims) ? claims : JSON.stringify(claims);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return [protectedB64, '', b64url(iv), b64url(body), b64url(cipher.getAuthTag())].join('.');
}

/** The exact plaintext inside a token, as the SDK wrote it. */
function openedPlaintext(token, key) {
  const [protectedB64, , iv, body, tag] = token.split('.');
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAAD(Buffer.from(protectedB64, 'ascii'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString();
}

/** What a promise-returning SDK call did: a value, `undefined`, or a throw. */
async function settle(call) {
  try {
    const value = await call();
    return value === undefined ? { outcome: 'undefined' } : { outcome: 'value', value };
  } catch (err) {
    return { outcome: 'throws', error_name: err?.constructor?.name, message: String(err?.message ?? err) };
  }
}

/** jose's own verdict beside the SDK's, to tell the SDK's checks from the library's. */
async function joseVerdict(token, key) {
  try {
    await jwtDecrypt(token, key);
    return { ok: true };
  } catch (err) {
    return { ok: false, error_name: err?.constructor?.name, code: err?.code };
  }
}

function manyFlags(minBytes) {
  const shapes = [
    (i) => i % 12 === 0,
    (i) => `variant-${i}-${'x'.repeat(i % 17)}`,
    (i) => i * 1.25,
    () => null,
    (i) => ({ enabled: true, rollout: i % 100, tags: ['a', 'b', String(i)] }),
    (i) => [i, `s${i}`, false, { n: i }],
  ];
  const flags = {};
  for (let i = 0; JSON.stringify(flags).length < minBytes; i++) {
    flags[`flag_${String(i).padStart(4, '0')}`] = shapes[i % shapes.length](i);
  }
  return flags;
}

const FLAG_SETS = {
  empty: {},
  'single-bool': { ciInPreviewSmoke: true },
  'mixed-types': {
    on: true,
    off: false,
    text: 'variant-b',
    blank: '',
    int: 42,
    negative: -7,
    fraction: 0.1,
    huge: 1e21,
    maxSafe: 9007199254740991,
    nothing: null,
    deep: { a: { b: { c: [1, 'two', false, null, { d: 'e' }] } } },
    list: [true, 1, 'x', null, [], {}],
    emptyObject: {},
    escapes: 'quote " backslash \\ newline \n tab \t nul \u0000 slash /',
    'key with spaces': 'v',
    'dotted.key': 1,
    'dash-key': 2,
  },
  unicode: {
    '🚀launch': '🎉 party 👩‍👩‍👧‍👦',
    機能フラグ: '有効',
    中文键: '中文值',
    한국어: true,
    émoji_é: 'café ☕',
    rtl_עברית: 'שלום',
    astral: '𝄞 𠜎',
    mixed: ['日本', '🇯🇵', { ключ: 'значение' }],
  },
  'large-8k': manyFlags(8192),
};

const started = new Date();
const vectors = {
  generated_with: {
    flags: sdk.version,
    jose: jose.version,
    '@vercel/flags (legacy section)': legacy.version,
    node: process.version,
    script: 'crates/encrypt-override/interop/generate-vectors.mjs',
  },
  generated_at: started.toISOString(),
  generated_at_epoch: Math.floor(started.getTime() / 1000),
  notes: [
    'Results: {"outcome":"value","value":X} = decryptOverrides resolved to X; {"outcome":"undefined"} = it resolved to undefined (the SDK ignores the cookie); {"outcome":"throws"} = it rejected.',
    '`token` uses the SDK default exp (one year after generated_at): replay it with the clock at generated_at_epoch. `token_long_lived` was made with exp 2100-01-01.',
    'Recorded with jose\'s Node build, the one Next.js uses on the Node.js runtime.',
    'The format these vectors pin down is described in system-docs/CONTRACT.md (cookie format).',
  ],
  secrets: Object.fromEntries(
    Object.entries(SECRET).map(([id, secret]) => [id, { secret, key_hex: Buffer.from(keyBytes(secret)).toString('hex') }]),
  ),
};

// Positive: the SDK encrypts, the SDK decrypts, for both secrets and every flag set.
vectors.positive = [];
for (const [secretId, secret] of Object.entries(SECRET)) {
  for (const [name, flags] of Object.entries(FLAG_SETS)) {
    const token = await encryptOverrides(flags, secret);
    const longLived = await encryptOverrides(flags, secret, FAR_EXP);
    const result = await settle(() => decryptOverrides(token, secret));
    const resultLong = await settle(() => decryptOverrides(longLived, secret));
    for (const r of [result, resultLong]) {
      if (JSON.stringify(r.value) !== JSON.stringify(flags)) throw new Error(`SDK round trip broke for ${name}`);
    }
    vectors.positive.push({
      id: `${secretId}/${name}`,
      secret_id: secretId,
      secret,
      flags,
      token,
      token_length: token.length,
      protected_header: decodeProtectedHeader(token),
      claims: (await jwtDecrypt(token, keyBytes(secret))).payload,
      plaintext_exact: openedPlaintext(token, keyBytes(secret)),
      decryptOverrides_result: result,
      token_long_lived: longLived,
      claims_long_lived: (await jwtDecrypt(longLived, keyBytes(secret))).payload,
      decryptOverrides_result_long_lived: resultLong,
    });
  }
}

// Deterministic: fixed IV and exp, sealed by hand and by jose the way the SDK calls it; both
// must agree byte for byte and the SDK must accept the result.
vectors.deterministic = [];
for (const [secretId, ivHex, flags] of [
  ['A', '000102030405060708090a0b', {}],
  ['A', '0c0d0e0f1011121314151617', { ciInPreviewSmoke: true }],
  ['B', 'a0a1a2a3a4a5a6a7a8a9aaab', { ciInPreviewSmoke: true, variant: 'b', pct: 12.5, nested: { x: [1, null] } }],
  ['B', 'ffffffffffffffffffffffff', { '🚀': '機能', ключ: null }],
]) {
  const secret = SECRET[secretId];
  const iv = Buffer.from(ivHex, 'hex');
  const plaintext = JSON.stringify({ o: flags, pur: 'overrides', exp: FAR_EXP });
  const token = handSealed({ claims: plaintext, key: keyBytes(secret), iv });
  const viaJose = await new EncryptJWT({ o: flags, pur: 'overrides' })
    .setExpirationTime(FAR_EXP)
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
    .setInitializationVector(iv)
    .encrypt(keyBytes(secret));
  if (viaJose !== token) throw new Error(`hand-sealed token differs from jose for IV ${ivHex}`);
  const result = await settle(() => decryptOverrides(token, secret));
  if (result.outcome !== 'value') throw new Error(`the SDK refused the fixed-IV token ${ivHex}`);
  vectors.deterministic.push({
    id: `fixed-iv-${secretId}-${ivHex.slice(0, 4)}`,
    secret_id: secretId,
    secret,
    key_hex: Buffer.from(keyBytes(secret)).toString('hex'),
    iv_hex: ivHex,
    flags,
    plaintext_exact: plaintext,
    token,
    decryptOverrides_result: result,
  });
}

// Negative: tokens and secrets the SDK refuses, derived from one good token.
const good = await encryptOverrides({ ciInPreviewSmoke: true }, SECRET.A, FAR_EXP);
const [hdr, , iv, body, tag] = good.split('.');
const flipBit = (segment, byte) => {
  const bytes = Buffer.from(segment, 'base64url');
  bytes[byte] ^= 1;
  return b64url(bytes);
};
const joined = (...segments) => segments.join('.');
const smoke = { ciInPreviewSmoke: true };
const sdkJwt = (claims, exp) =>
  new EncryptJWT(claims).setExpirationTime(exp).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).encrypt(KEY_A);
const hourAgo = unixNow() - 3600;
const refusals = [
  ['wrong-secret', 'sealed with secret A, opened with secret B', good, SECRET.B],
  ['flipped-ciphertext-byte', 'one bit of ciphertext byte 5 flipped', joined(hdr, '', iv, flipBit(body, 5), tag)],
  ['flipped-tag-byte', 'one bit of tag byte 0 flipped', joined(hdr, '', iv, body, flipBit(tag, 0))],
  ['flipped-iv-byte', 'one bit of IV byte 0 flipped', joined(hdr, '', flipBit(iv, 0), body, tag)],
  ['header-reencoded-whitespace', 'the same header JSON with a space: the AAD changes', joined(b64url(Buffer.from('{"alg":"dir", "enc":"A256GCM"}')), '', iv, body, tag)],
  ['truncated-10-chars', 'last 10 characters cut', good.slice(0, -10)],
  ['truncated-last-segment', 'tag segment and its dot cut (4 segments)', joined(hdr, '', iv, body)],
  ['truncated-half', 'first half of the token', good.slice(0, Math.floor(good.length / 2))],
  ['empty-tag', 'tag segment empty', joined(hdr, '', iv, body, '')],
  ['nonempty-encrypted-key', 'an encrypted key with alg dir', joined(hdr, 'AAAA', iv, body, tag)],
  ['empty-string', 'empty string', ''],
  ['garbage', 'not a JWE', 'hello-world'],
  ['signed-jwt-shape', 'a three-segment JWS', 'eyJhbGciOiJIUzI1NiJ9.eyJvIjp7fX0.c2ln'],
  ['pur-values', 'pur "values" (a flag-values token)', handSealed({ claims: { o: smoke, pur: 'values', exp: FAR_EXP } })],
  ['pur-definitions', 'pur "definitions"', handSealed({ claims: { o: smoke, pur: 'definitions', exp: FAR_EXP } })],
  ['pur-missing', 'no pur', handSealed({ claims: { o: smoke, exp: FAR_EXP } })],
  ['o-missing', 'no o', handSealed({ claims: { pur: 'overrides', exp: FAR_EXP } })],
  ['expired-1h', 'exp an hour before generation', handSealed({ claims: { o: smoke, pur: 'overrides', exp: hourAgo } })],
  ['expired-1s', 'exp one second before generation (no clock tolerance)', handSealed({ claims: { o: smoke, pur: 'overrides', exp: unixNow() - 1 } })],
  ['expired-via-jose', 'jose with the SDK header and claims, exp an hour ago', await sdkJwt({ o: smoke, pur: 'overrides' }, hourAgo)],
  ['pur-proof-via-jose', 'jose with pur "proof"', await sdkJwt({ o: smoke, pur: 'proof' }, '1y')],
  ['secret-wrong-length', 'a secret of 30 bytes', good, Buffer.alloc(30, 7).toString('base64url')],
  ['secret-empty', 'an empty secret', good, ''],
  ['non-string-token', 'the token is undefined', undefined],
];
vectors.negative_base_token = { secret_id: 'A', token: good, note: 'valid (exp 2100); the tampered tokens derive from it' };
vectors.negative = [];
for (const [id, description, token, secret = SECRET.A] of refusals) {
  const keyFits = secret && Buffer.from(secret, 'base64url').length === 32;
  vectors.negative.push({
    id,
    description,
    secret,
    token,
    decryptOverrides_result: await settle(() => decryptOverrides(token, secret)),
    jose_jwtDecrypt: typeof token === 'string' && keyFits ? await joseVerdict(token, keyBytes(secret)) : null,
  });
}
vectors.negative.push({
  id: 'encrypt-with-short-secret',
  description: 'encryptOverrides({a:1}, "too-short")',
  encryptOverrides_result: await settle(() => encryptOverrides({ a: 1 }, 'too-short')),
});

/** A section of tokens tried with secret A, each with the SDK's verdict. */
async function variants(cases) {
  const out = [];
  for (const [id, description, token] of cases) {
    const result = await settle(() => decryptOverrides(token, SECRET.A));
    out.push({ id, description, token, accepted: result.outcome === 'value', decryptOverrides_result: result, jose_jwtDecrypt: await joseVerdict(token, KEY_A) });
  }
  return out;
}
const okClaims = (extra = {}) => ({ o: smoke, pur: 'overrides', exp: FAR_EXP, ...extra });
const withHeader = (header) => handSealed({ header: typeof header === 'string' ? header : JSON.stringify(header), claims: okClaims() });
const dirGcm = { alg: 'dir', enc: 'A256GCM' };
const viaJoseWith = (header) => new CompactEncrypt(Buffer.from(JSON.stringify(okClaims()))).setProtectedHeader(header).encrypt(KEY_A);

vectors.header_variants = await variants([
  ['baseline', 'the SDK header', withHeader(SDK_HEADER)],
  ['reordered', 'enc before alg', withHeader('{"enc":"A256GCM","alg":"dir"}')],
  ['whitespace', 'pretty-printed header', withHeader('{ "alg" : "dir",\n  "enc" : "A256GCM" }')],
  ['typ-JWT', 'typ "JWT" added', withHeader({ ...dirGcm, typ: 'JWT' })],
  ['cty-kid-custom', 'cty, kid and a private member added', withHeader({ ...dirGcm, cty: 'json', kid: 'k1', 'x-custom': { n: 1 } })],
  ['zip-DEF-deflated', 'zip "DEF" over a really deflated payload', handSealed({ header: JSON.stringify({ ...dirGcm, zip: 'DEF' }), claims: zlib.deflateRawSync(Buffer.from(JSON.stringify(okClaims()))) })],
  ['zip-DEF-uncompressed', 'zip "DEF" over a plain payload', withHeader({ ...dirGcm, zip: 'DEF' })],
  ['crit-unknown', 'crit ["x"] with x present', withHeader({ ...dirGcm, crit: ['x'], x: 1 })],
  ['crit-empty', 'crit []', withHeader({ ...dirGcm, crit: [] })],
  ['iss-replicated-mismatch', 'header iss "x", no iss claim', withHeader({ ...dirGcm, iss: 'x' })],
  ['iss-replicated-match', 'header iss "x" and claim iss "x"', handSealed({ header: JSON.stringify({ ...dirGcm, iss: 'x' }), claims: okClaims({ iss: 'x' }) })],
  ['enc-A128GCM', 'enc A128GCM with a 32-byte key', withHeader({ alg: 'dir', enc: 'A128GCM' })],
  ['alg-none', 'alg "none"', withHeader({ alg: 'none', enc: 'A256GCM' })],
  ['alg-missing', 'no alg', withHeader({ enc: 'A256GCM' })],
  ['header-not-json', 'the header is not JSON', withHeader('not json')],
  ['enc-A128CBC-HS256', 'dir with A128CBC-HS256 (also a 32-byte key), sealed by jose', await viaJoseWith({ alg: 'dir', enc: 'A128CBC-HS256' })],
  ['alg-A256KW', 'A256KW key wrap with the secret as KEK, sealed by jose', await viaJoseWith({ alg: 'A256KW', enc: 'A256GCM' })],
  ['alg-A256GCMKW', 'A256GCMKW key wrap, sealed by jose', await viaJoseWith({ alg: 'A256GCMKW', enc: 'A256GCM' })],
]);

const withClaims = (claims) => handSealed({ claims });
vectors.claims_variants = await variants([
  ['pur-array', 'pur ["overrides","values"]', withClaims(okClaims({ pur: ['overrides', 'values'] }))],
  ['no-exp', 'no exp at all', withClaims({ o: smoke, pur: 'overrides' })],
  ['exp-float', 'exp a fraction in the future', withClaims(okClaims({ exp: FAR_EXP + 0.5 }))],
  ['exp-string', 'exp a string', withClaims(okClaims({ exp: String(FAR_EXP) }))],
  ['with-iat', 'iat added', withClaims(okClaims({ iat: unixNow() }))],
  ['iat-future', 'iat in the future', withClaims(okClaims({ iat: FAR_EXP - 10 }))],
  ['iat-string', 'iat a string', withClaims(okClaims({ iat: 'now' }))],
  ['nbf-past', 'nbf a minute ago', withClaims(okClaims({ nbf: unixNow() - 60 }))],
  ['nbf-future', 'nbf an hour ahead', withClaims(okClaims({ nbf: unixNow() + 3600 }))],
  ['extra-claims', 'iss, aud, jti and a custom claim added', withClaims(okClaims({ iss: 'rust', aud: 'x', jti: 'abc', foo: 1 }))],
  ['key-order', 'claims in the order exp, pur, o', withClaims({ exp: FAR_EXP, pur: 'overrides', o: smoke })],
  ['o-null', 'o null', withClaims(okClaims({ o: null }))],
  ['o-array', 'o an array', withClaims(okClaims({ o: [1, 2] }))],
  ['o-string', 'o a string', withClaims(okClaims({ o: 'str' }))],
  ['duplicate-pur', 'pur twice ("values" then "overrides"): JSON.parse keeps the last', withClaims(`{"o":{"ciInPreviewSmoke":true},"pur":"values","pur":"overrides","exp":${FAR_EXP}}`)],
  ['claims-array', 'the plaintext is an array', withClaims('[1,2,3]')],
  ['claims-not-json', 'the plaintext is not JSON', withClaims('not json')],
  ['claims-whitespace', 'pretty-printed claims', withClaims(JSON.stringify(okClaims(), null, 2))],
]);

// How leniently the SDK reads FLAGS_SECRET, tried on one good token.
vectors.secret_encoding_variants_token = good;
vectors.secret_encoding_variants = [];
for (const [id, secret] of [
  ['canonical', SECRET.A],
  ['standard-alphabet-padded', Buffer.from(KEY_A).toString('base64')],
  ['standard-alphabet-unpadded', Buffer.from(KEY_A).toString('base64').replace(/=+$/, '')],
  ['base64url-padded', `${SECRET.A}=`],
  ['surrounding-whitespace', `  ${SECRET.A}\n`],
  ['hex-64-chars', Buffer.from(KEY_A).toString('hex')],
  ['raw-32-char-string', 'abcdefghijklmnopqrstuvwxyz012345'],
  ['non-base64-garbage', '!!!!'],
]) {
  vectors.secret_encoding_variants.push({
    id,
    secret,
    node_buffer_decoded_length: Buffer.from(secret, 'base64url').length,
    decryptOverrides_result: await settle(() => decryptOverrides(good, secret)),
  });
}

vectors.token_encoding_variants = await variants([
  ['canonical', 'the good token', good],
  ['padded-segments', '"=" padding on the IV, ciphertext and tag', joined(hdr, '', `${iv}=`, `${body}==`, `${tag}==`)],
  ['standard-alphabet', '"-" and "_" swapped for "+" and "/"', good.replace(/-/g, '+').replace(/_/g, '/')],
  ['trailing-char-ciphertext', 'one extra "A" on the ciphertext', joined(hdr, '', iv, `${body}A`, tag)],
]);

// The legacy package used the same JWE with other claims ({c, exp}); the two refuse each other.
const legacyToken = await legacy.module.encrypt(smoke, SECRET.A);
vectors.legacy_v3_interop = [
  {
    id: 'v3-encrypt-token',
    description: '@vercel/flags@3.1.1 encrypt(): claims {c, exp}, no pur',
    token: legacyToken,
    claims: (await jwtDecrypt(legacyToken, KEY_A)).payload,
    v4_decryptOverrides_result: await settle(() => decryptOverrides(legacyToken, SECRET.A)),
  },
  {
    id: 'v4-token-into-v3-decrypt',
    description: 'a flags@4.3.1 token given to @vercel/flags@3.1.1 decrypt()',
    token: good,
    v3_decrypt_result: await settle(() => legacy.module.decrypt(good, SECRET.A)),
  },
];

// Sizes: a token is 81 + ceil(4P/3) characters for P bytes of claims JSON.
const emptyToken = await encryptOverrides({}, SECRET.A);
const cookieName = 'vercel-flag-overrides';
vectors.size_notes = {
  token_length_formula: 'len = 81 + ceil(4*P/3), P = bytes of claims JSON = overrides JSON + 41 with a 10-digit exp',
  empty_overrides_token_length: emptyToken.length,
  browser_cookie_limit: 'about 4096 bytes of name=value per cookie; the SDK does not split a token over cookies',
  max_overrides_json_bytes_for_4096_cookie: Math.floor(((4096 - cookieName.length - 1 - 81) * 3) / 4) - 41,
};

/** Two levels of indentation, the rest of each entry on one line: reviewable diffs, small file. */
function layout(value, depth = 0) {
  const pad = '  '.repeat(depth + 1);
  const close = '  '.repeat(depth);
  if (value === null || typeof value !== 'object' || depth >= 3) return JSON.stringify(value);
  const items = Array.isArray(value)
    ? value.map((v) => pad + layout(v, depth + 1))
    : Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => `${pad}${JSON.stringify(k)}: ${layout(v, depth + 1)}`);
  if (items.length === 0) return Array.isArray(value) ? '[]' : '{}';
  const [open, end] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
  return `${open}\n${items.join(',\n')}\n${close}${end}`;
}
const target = process.argv[2] ?? path.join(here, 'flags-sdk-vectors.json');
fs.writeFileSync(target, `${layout(vectors)}\n`);
process.stderr.write(`wrote ${target} (flags ${sdk.version}, jose ${jose.version}, @vercel/flags ${legacy.version})\n`);
