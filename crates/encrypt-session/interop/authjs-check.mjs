// The live interop check's Node half: the real Auth.js (`@auth/core/jwt`) decodes a session
// cookie the endpoint issued, or encodes one for the Rust decoder to read.
//
//   AUTHJS_DIR=DIR AUTH_SECRET=S node authjs-check.mjs decode SALT TOKEN  -> the claims as JSON
//   AUTHJS_DIR=DIR AUTH_SECRET=S node authjs-check.mjs encode SALT CLAIMS_JSON MAX_AGE -> a token
//
// DIR is a folder where `npm install @auth/core@0.41.3` ran. The secret comes from the
// environment so it is never on a command line. Exits 1 with the package's error on refusal.
import { join } from "node:path"
import { createRequire } from "node:module"
import { pathToFileURL } from "node:url"

const dir = process.env.AUTHJS_DIR
const secret = process.env.AUTH_SECRET
if (!dir || !secret) {
  console.error("set AUTHJS_DIR (a folder with @auth/core installed) and AUTH_SECRET")
  process.exit(2)
}
const resolve = createRequire(join(dir, "package.json")).resolve
const { encode, decode } = await import(pathToFileURL(resolve("@auth/core/jwt")).href)

const [mode, salt, arg, maxAge] = process.argv.slice(2)
try {
  if (mode === "decode") {
    const payload = await decode({ token: arg, secret, salt })
    if (payload === null) throw new Error("decode returned null")
    console.log(JSON.stringify(payload))
  } else if (mode === "encode") {
    console.log(await encode({ token: JSON.parse(arg), secret, salt, maxAge: Number(maxAge) }))
  } else {
    console.error(`unknown mode ${mode}: use decode or encode`)
    process.exit(2)
  }
} catch (error) {
  console.error(`Auth.js refused: ${error}`)
  process.exit(1)
}
