// The interop check's Node half: `jose` (the JOSE library most JavaScript apps verify JWTs with)
// verifies tokens the tokens/mint endpoint issued.
//
//   JOSE_DIR=DIR node jose-verify.mjs < CASES_JSON  -> one JSON result per case, as an array
//
// CASES_JSON is an array of {alg, key, token}: `key` is the HS256 secret's text or an SPKI PEM
// public key. A result is {ok: true, header, payload} or {ok: false, error}. DIR is a folder where
// `npm install jose@6.2.19` ran (`.ci/run` makes one).
import { join } from "node:path"
import { createRequire } from "node:module"
import { pathToFileURL } from "node:url"

const dir = process.env.JOSE_DIR
if (!dir) {
  console.error("set JOSE_DIR (a folder with jose installed)")
  process.exit(2)
}
const resolve = createRequire(join(dir, "package.json")).resolve
const { jwtVerify, importSPKI } = await import(pathToFileURL(resolve("jose")).href)

let input = ""
for await (const chunk of process.stdin) input += chunk
const results = []
for (const { alg, key, token } of JSON.parse(input)) {
  try {
    const verifyKey = alg === "HS256" ? new TextEncoder().encode(key) : await importSPKI(key, alg)
    const { payload, protectedHeader } = await jwtVerify(token, verifyKey, { algorithms: [alg] })
    results.push({ ok: true, header: protectedHeader, payload })
  } catch (error) {
    results.push({ ok: false, error: `${error.code ?? "error"}: ${error.message}` })
  }
}
console.log(JSON.stringify(results))
