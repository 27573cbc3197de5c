// Opens the preview in Chromium with a Playwright storageState and reports what the page shows.
//
// `cargo xtask e2e` runs it against its emulated preview: node e2e/visit.mjs PLAN.json, where the
// plan is {"url", "host", "leafCertificate", "visits": [{"name", "storageState", "screenshot",
// "refreshSession", "notBefore"}]}: `refreshSession` reads /api/auth/session first (Auth.js re-signs
// the session cookie there, as an app's SessionProvider does), `notBefore` (Unix seconds) waits until
// then before opening the page.
// It prints one JSON object, {"visits": [{"name", "responses", "finalUrl", "marker"}]}, and judges
// nothing: the caller does. A team's own suite reads the same marker with @playwright/test:
//   await expect(page.locator('#ci-preview-state')).toHaveText(...)
//
// Chromium comes from the system (Debian's `chromium`; CHROMIUM_PATH to change it): playwright-core
// downloads no browser. The preview's hostname resolves to 127.0.0.1 inside the browser only
// (--host-resolver-rules), every other name to nothing, and the edge's test certificate is trusted
// by its key (--ignore-certificate-errors-spki-list), so the page is a secure context as on a real
// preview. A refused visit is redirected to Vercel's login, which resolves to nothing here: the
// report keeps the redirect.
import { readFileSync } from 'node:fs';
import { X509Certificate, createHash } from 'node:crypto';
import { chromium } from 'playwright-core';

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const leaf = new X509Certificate(readFileSync(plan.leafCertificate));
const spki = createHash('sha256')
  .update(leaf.publicKey.export({ type: 'spki', format: 'der' }))
  .digest('base64');

const args = [
  `--host-resolver-rules=MAP ${plan.host} 127.0.0.1, MAP * ~NOTFOUND`,
  `--ignore-certificate-errors-spki-list=${spki}`,
];
// Chromium's sandbox cannot start as root (CI containers, this repository's CI machine).
if (process.getuid?.() === 0) args.push('--no-sandbox');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args,
});
const visits = [];
try {
  for (const visit of plan.visits) {
    const context = await browser.newContext({
      storageState: visit.storageState ?? undefined,
      viewport: { width: 900, height: 560 },
    });
    const page = await context.newPage();
    const responses = [];
    page.on('response', (r) => {
      if (r.request().isNavigationRequest()) {
        responses.push({ url: r.url(), status: r.status(), location: r.headers()['location'] ?? null });
      }
    });
    let error = null;
    if (visit.refreshSession) {
      await page.goto(new URL('/api/auth/session', plan.url).href);
      responses.length = 0;
    }
    const wait = (visit.notBefore ?? 0) * 1000 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    try {
      await page.goto(plan.url, { waitUntil: 'load', timeout: 30_000 });
    } catch (e) {
      error = String(e.message ?? e).split('\n')[0];
    }
    const pre = page.locator('#ci-preview-state');
    const marker = (await pre.count()) > 0 ? JSON.parse(await pre.textContent()) : null;
    if (visit.screenshot) await page.screenshot({ path: visit.screenshot, fullPage: true });
    const cookies = (await context.cookies()).map(({ name, domain, httpOnly, secure, sameSite }) => ({
      name,
      domain,
      httpOnly,
      secure,
      sameSite,
    }));
    visits.push({ name: visit.name, responses, finalUrl: page.url(), marker, cookies, error });
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ visits }));
