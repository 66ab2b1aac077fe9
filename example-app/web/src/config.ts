/** The run-time configuration: one build serves `udagram serve` and every AWS stage. */

/** The OpenID Connect client settings (the development issuer locally, Auth0 on AWS). */
export interface OidcConfig {
  /** The issuer URL; its discovery document is at `.well-known/openid-configuration`. */
  authority: string;
  /** The public client's id (no secret: the code flow uses PKCE). */
  clientId: string;
  /** The scopes to ask for; `offline_access` gives the refresh token that keeps the session. */
  scope: string;
  /** The API identifier, which Auth0 needs as an extra `audience` parameter on authorize. */
  audience?: string;
}

/** What `/config.json` holds. */
export interface AppConfig {
  /** The REST API's base URL (another origin than the app on AWS). */
  apiUrl: string;
  /** The notices endpoint (`ws://` or `wss://`). */
  webSocketUrl: string;
  /** Sign-in settings. */
  oidc: OidcConfig;
}

function text(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new Error(`config.json: ${name} must be a non-empty string`);
  }
  return value.trim();
}

function url(value: unknown, name: string, schemes: string[]): string {
  const raw = text(value, name);
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new Error(`config.json: ${name} is not a URL`);
  }
  if (!schemes.includes(parsed.protocol)) {
    throw new Error(`config.json: ${name} must start with ${schemes.join(' or ')}//`);
  }
  return raw;
}

/** Checks a parsed `config.json`, so that a wrong deployment fails with a message, not later. */
export function parseConfig(raw: unknown): AppConfig {
  if (typeof raw !== 'object' || raw === null) {
    throw new Error('config.json must hold a JSON object');
  }
  const value = raw as Record<string, unknown>;
  const oidc = (value.oidc ?? {}) as Record<string, unknown>;
  const audience = oidc.audience;
  return {
    apiUrl: url(value.apiUrl, 'apiUrl', ['http:', 'https:']).replace(/\/+$/, ''),
    webSocketUrl: url(value.webSocketUrl, 'webSocketUrl', ['ws:', 'wss:']),
    oidc: {
      authority: url(oidc.authority, 'oidc.authority', ['http:', 'https:']),
      clientId: text(oidc.clientId, 'oidc.clientId'),
      scope: typeof oidc.scope === 'string' && oidc.scope.trim() ? oidc.scope.trim() : 'openid profile offline_access',
      audience: typeof audience === 'string' && audience.trim() ? audience.trim() : undefined,
    },
  };
}

/** Fetches and checks `/config.json` (never cached: a redeployment may change it). */
export async function loadConfig(): Promise<AppConfig> {
  const response = await fetch('/config.json', { cache: 'no-store', headers: { accept: 'application/json' } });
  if (!response.ok) {
    throw new Error(`config.json answered ${response.status}`);
  }
  return parseConfig(await response.json());
}
