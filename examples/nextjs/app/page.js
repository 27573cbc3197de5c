// The home page: what the flags and the session decide, for people and for tests. The
// `<pre id="ci-preview-state" style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>` marker holds `{"flags":{...},"user":...}` (`user` null when signed
// out) as JSON: e2e checks read it instead of scraping the page (keep its id and shape).
import { auth } from '../auth';
import { allFlags } from '../flags';

// Flags and the session are per request (cookies).
export const dynamic = 'force-dynamic';

const BUTTON_COLOURS = { control: '#444', blue: '#0b63e5', green: '#16803c' };

export default async function Home() {
  const keys = Object.keys(allFlags);
  const [session, ...values] = await Promise.all([auth(), ...keys.map((key) => allFlags[key]())]);
  const flags = Object.fromEntries(keys.map((key, i) => [key, values[i]]));
  const user = session?.user
    ? { id: session.user.id ?? null, name: session.user.name ?? null, email: session.user.email ?? null }
    : null;

  return (
    <main>
      <h1>ci-in-preview example shop</h1>
      <p id="who">{user ? `Signed in as ${user.name ?? user.id} (${user.email ?? 'no email'})` : 'Signed out'}</p>
      {flags.newCheckout ? (
        <p style={{ background: '#fff3c4', padding: '0.5rem' }}>New checkout enabled</p>
      ) : (
        <p>Classic checkout</p>
      )}
      <p>Showing {flags.maxItems} items per page</p>
      <button
        type="button"
        style={{
          background: BUTTON_COLOURS[flags.checkoutVariant] ?? BUTTON_COLOURS.control,
          color: 'white',
          border: 0,
          padding: '0.6rem 1.2rem',
          borderRadius: '0.4rem',
        }}
      >
        Checkout ({flags.checkoutVariant})
      </button>
      <pre id="ci-preview-state" style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>{JSON.stringify({ flags, user })}</pre>
    </main>
  );
}
