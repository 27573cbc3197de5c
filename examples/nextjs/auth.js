// Auth.js (next-auth v5) with JWT sessions: the session is a cookie sealed with AUTH_SECRET, so an
// e2e run is signed in by the cookie ci-in-preview's `auth/encrypt-session` endpoint issues, with
// no test account and no login form. Real users sign in with GitHub (AUTH_GITHUB_ID,
// AUTH_GITHUB_SECRET).
import NextAuth from 'next-auth';
import GitHub from 'next-auth/providers/github';

// The claim `auth/encrypt-session` puts in every session it issues: the Unix time (seconds) the
// session ends. Auth.js re-signs a JWT session with its own `maxAge` (30 days by default) whenever
// the session is read where cookies can be written, so a test session would outlive the endpoint's
// `cookie_max_age`; the `jwt` callback below ends it at this time instead.
export const SESSION_END_CLAIM = 'ci_expires_at';

/**
 * Keeps a session while it is within its lifetime; `null` signs it out. Auth.js accepts a token up
 * to 15 s past its `exp`; here it ends at `exp` exactly, and at the end claim when there is one.
 */
export function enforceSessionEnd(token) {
  const now = Date.now() / 1000;
  if (typeof token?.exp === 'number' && token.exp <= now) return null;
  if (!token || !(SESSION_END_CLAIM in token)) return token;
  const end = token[SESSION_END_CLAIM];
  return typeof end === 'number' && now < end ? token : null;
}

export const { handlers, auth, signIn, signOut } = NextAuth({
  providers: [GitHub],
  session: { strategy: 'jwt' },
  callbacks: {
    jwt({ token }) {
      return enforceSessionEnd(token);
    },
    session({ session, token }) {
      if (session.user) session.user.id = token.sub;
      return session;
    },
  },
});
