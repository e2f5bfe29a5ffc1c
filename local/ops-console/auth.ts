/**
 * Who may use the ops console: a caller with an API key that has the `admin` scope, presented as
 * `Authorization: Bearer <key>` or, for a browser, through the login form, which keeps the key server side in a
 * session and gives the browser only a random session id (an HttpOnly, SameSite=Strict cookie scoped to /ops).
 * Sessions live in this process's memory (a restart signs everyone out), for 8 hours at most.
 */
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { bearerToken } from '../../src/api/api-keys';

/** Verifies a key: its scopes when it is valid and not revoked, undefined otherwise. */
export type KeyVerifier = (key: string) => Promise<{ scopes: readonly string[] } | undefined>;

export const SESSION_COOKIE = 'ops_session';
const SESSION_SECONDS = 8 * 3600;
const MAX_SESSIONS = 200;

export type AuthResult = { ok: true; key: string } | { ok: false; status: 401 | 403; reason: string };

function cookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

export class ConsoleAuth {
  private readonly sessions = new Map<string, { key: string; expiresAt: number }>();

  constructor(
    private readonly verify: KeyVerifier,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a key may use the console (401: no valid key; 403: a valid key without the admin scope). */
  async check(key: string | undefined): Promise<AuthResult> {
    if (!key) return { ok: false, status: 401, reason: 'an admin API key is required' };
    const principal = await this.verify(key);
    if (!principal) return { ok: false, status: 401, reason: 'this API key is not valid' };
    if (!principal.scopes.includes('admin')) {
      return { ok: false, status: 403, reason: 'this API key does not have the admin scope' };
    }
    return { ok: true, key };
  }

  /** The request's key: its Bearer header, else its session's key. The key is checked on every request. */
  authenticate(req: http.IncomingMessage): Promise<AuthResult> {
    const header = req.headers.authorization;
    if (header !== undefined) return this.check(bearerToken(header));
    return this.check(this.sessionKey(req));
  }

  private sessionKey(req: http.IncomingMessage): string | undefined {
    const id = cookies(req.headers.cookie)[SESSION_COOKIE];
    if (!id) return undefined;
    const session = this.sessions.get(id);
    if (!session) return undefined;
    if (session.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return session.key;
  }

  /** A new session for a checked key: the Set-Cookie header value to send. */
  startSession(key: string): string {
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, { key, expiresAt: this.now() + SESSION_SECONDS * 1000 });
    while (this.sessions.size > MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
    return `${SESSION_COOKIE}=${id}; Path=/ops; HttpOnly; SameSite=Strict; Max-Age=${SESSION_SECONDS}`;
  }

  /** Ends the request's session: the Set-Cookie header value that clears the cookie. */
  endSession(req: http.IncomingMessage): string {
    const id = cookies(req.headers.cookie)[SESSION_COOKIE];
    if (id) this.sessions.delete(id);
    return `${SESSION_COOKIE}=; Path=/ops; HttpOnly; SameSite=Strict; Max-Age=0`;
  }
}
