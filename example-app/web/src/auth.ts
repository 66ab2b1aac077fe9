/**
 * Sign-in with OpenID Connect (authorization code + PKCE) through oidc-client-ts: the same code
 * talks to `udagram serve`'s development issuer and to Auth0.
 *
 * The session lives in localStorage, so a reload keeps it. Access tokens are renewed on demand with
 * the refresh token (no hidden iframe, which Auth0 blocks with third-party cookies off and the
 * development issuer does not serve); when that fails the user goes back through sign-in.
 */
import { ErrorResponse, UserManager, WebStorageStateStore, type User } from 'oidc-client-ts';
import type { OidcConfig } from './config';

/** Renew an access token this many seconds before it expires. */
const RENEW_MARGIN_SECS = 5;

/** Thrown after the browser was sent to the sign-in page: the caller stops what it was doing. */
export class SignInRedirect extends Error {
  constructor() {
    super('Your session has ended; signing in again.');
    this.name = 'SignInRedirect';
  }
}

/** Who is signed in, as the header shows it. */
export interface Account {
  /** The token's subject, the API's user id. */
  id: string;
  /** A name to show. */
  name: string;
}

type Listener = (account: Account | null) => void;

function account(user: User | null): Account | null {
  if (!user) return null;
  const profile = user.profile;
  const name = profile.name ?? profile.preferred_username ?? profile.nickname ?? profile.sub;
  return { id: profile.sub, name: String(name) };
}

function here(): string {
  return window.location.pathname + window.location.search + window.location.hash;
}

/** The sign-in state of this tab, shared by the API client, the WebSocket and the header. */
export class Auth {
  private readonly manager: UserManager;
  private user: User | null = null;
  private readonly listeners = new Set<Listener>();
  private renewing: Promise<User | null> | null = null;

  constructor(config: OidcConfig) {
    const origin = window.location.origin;
    this.manager = new UserManager({
      authority: config.authority,
      client_id: config.clientId,
      redirect_uri: `${origin}/callback`,
      post_logout_redirect_uri: `${origin}/`,
      response_type: 'code',
      scope: config.scope,
      userStore: new WebStorageStateStore({ store: window.localStorage }),
      automaticSilentRenew: false,
      loadUserInfo: false,
      monitorSession: false,
      extraQueryParams: config.audience ? { audience: config.audience } : {},
    });
    this.manager.events.addUserLoaded((user) => this.set(user));
    this.manager.events.addUserUnloaded(() => this.set(null));
    this.manager.events.addUserSignedOut(() => this.set(null));
  }

  /**
   * Reads the stored session. When its access token has expired, renews it with the refresh token;
   * a session that cannot be renewed is forgotten, so the header does not claim a sign-in that
   * the next write would have to redo.
   */
  async restore(): Promise<void> {
    let user: User | null = null;
    try {
      user = await this.manager.getUser();
    } catch {
      // Unreadable storage: as if signed out.
    }
    this.set(user);
    if (!user || (user.expires_in ?? 0) > RENEW_MARGIN_SECS) return;
    if (!user.refresh_token) return this.forget();
    try {
      this.set(await this.manager.signinSilent());
    } catch (error) {
      // The issuer refused the refresh token: the session is over. Any other failure (offline,
      // issuer down) keeps it, and the next write tries again.
      if (error instanceof ErrorResponse) await this.forget();
    }
  }

  private async forget(): Promise<void> {
    await this.manager.removeUser().catch(() => undefined);
    this.set(null);
  }

  /** The signed-in account, or null. */
  get current(): Account | null {
    return account(this.user);
  }

  /** Calls `listener` on every sign-in, renewal and sign-out; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private set(user: User | null) {
    const before = this.user;
    this.user = user;
    if (before?.access_token !== user?.access_token || before?.profile.sub !== user?.profile.sub) {
      const now = account(user);
      for (const listener of this.listeners) listener(now);
    }
  }

  /** Sends the browser to the issuer's sign-in page; comes back to `returnTo` (default: here). */
  async signIn(returnTo = here()): Promise<never> {
    await this.manager.signinRedirect({ state: { returnTo } });
    throw new SignInRedirect();
  }

  /** Finishes the sign-in on `/callback`; answers where to go next. */
  async completeSignIn(): Promise<string> {
    const user = await this.manager.signinRedirectCallback();
    this.set(user);
    const state = user.state as { returnTo?: unknown } | undefined;
    const target = typeof state?.returnTo === 'string' ? state.returnTo : '/';
    // Only a path of this app: never an open redirect.
    return target.startsWith('/') && !target.startsWith('//') ? target : '/';
  }

  /** Forgets the session here and at the issuer (when it has an end-session endpoint). */
  async signOut(): Promise<void> {
    try {
      await this.manager.signoutRedirect();
    } catch {
      // No end-session endpoint (or the issuer is unreachable): forget the session locally.
      await this.manager.removeUser();
      this.set(null);
    }
  }

  /** Renews the tokens with the refresh token; null when there is none or the issuer refuses. */
  async renew(): Promise<User | null> {
    if (!this.user?.refresh_token) return null;
    this.renewing ??= this.manager
      .signinSilent()
      .then((user) => {
        this.set(user);
        return user;
      })
      .catch(() => null)
      .finally(() => {
        this.renewing = null;
      });
    return this.renewing;
  }

  /**
   * A valid access token for a write: the current one, a renewed one, or (when the session has
   * ended) a trip through sign-in, which throws {@link SignInRedirect}.
   */
  async accessToken(): Promise<string> {
    const token = await this.freshToken();
    if (token) return token;
    return this.signIn();
  }

  /** A valid access token if one can be had without leaving the page, else null. */
  async freshToken(): Promise<string | null> {
    const user = this.user;
    if (!user) return null;
    const left = user.expires_in;
    if (left !== undefined && left > RENEW_MARGIN_SECS) return user.access_token;
    const renewed = await this.renew();
    return renewed?.access_token ?? null;
  }
}
