/**
 * One WebSocket per tab to the notices endpoint. It reconnects with exponential backoff and full
 * jitter (capped at 10 s) whenever the socket drops, each time with a fresh access token, and
 * reconnects at once when the tab comes back online.
 */
import type { Auth } from './auth';

/** A notice from the server. `imageReady` is the only kind today; others are passed on as is. */
export interface Notice {
  type: string;
  imageId?: string;
  groupId?: string;
}

/** `off`: signed out (the endpoint needs a token); `connecting`; `open`; `waiting` to retry. */
export type LiveStatus = 'off' | 'connecting' | 'open' | 'waiting';

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;

/** The delay before retry number `attempt` (0-based): random in [0, min(cap, first * 2^attempt)]. */
export function backoffDelay(attempt: number, random = Math.random): number {
  const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** attempt);
  return Math.max(100, Math.round(random() * ceiling));
}

/** The tab's live connection. */
export class Live {
  private socket: WebSocket | null = null;
  private timer: number | undefined;
  private attempt = 0;
  private wanted = false;
  private opening = false;
  private status: LiveStatus = 'off';
  private readonly noticeListeners = new Set<(notice: Notice) => void>();
  private readonly statusListeners = new Set<(status: LiveStatus) => void>();

  constructor(
    private readonly url: string,
    private readonly auth: Auth,
  ) {
    window.addEventListener('online', () => this.retryNow());
    auth.subscribe((account) => (account ? this.start() : this.stop()));
  }

  /** Connects if signed in. */
  start(): void {
    this.wanted = true;
    if (!this.socket && this.timer === undefined && !this.opening) void this.connect();
  }

  /** Closes the socket and stops retrying. */
  stop(): void {
    this.wanted = false;
    window.clearTimeout(this.timer);
    this.timer = undefined;
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000);
    this.setStatus('off');
  }

  /** The current status. */
  get current(): LiveStatus {
    return this.status;
  }

  /** Calls `listener` with every notice; returns the unsubscribe function. */
  onNotice(listener: (notice: Notice) => void): () => void {
    this.noticeListeners.add(listener);
    return () => this.noticeListeners.delete(listener);
  }

  /** Calls `listener` on every status change; returns the unsubscribe function. */
  onStatus(listener: (status: LiveStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  private setStatus(status: LiveStatus) {
    if (status === this.status) return;
    this.status = status;
    for (const listener of this.statusListeners) listener(status);
  }

  private retryNow() {
    if (!this.wanted || this.socket || this.opening) return;
    window.clearTimeout(this.timer);
    this.timer = undefined;
    this.attempt = 0;
    void this.connect();
  }

  private async connect(): Promise<void> {
    this.setStatus('connecting');
    this.opening = true;
    const token = await this.auth.freshToken().finally(() => {
      this.opening = false;
    });
    if (!this.wanted) return;
    if (!token) {
      // Signed out, or the session cannot be renewed: no notices until the next sign-in.
      this.setStatus('off');
      return;
    }
    const separator = this.url.includes('?') ? '&' : '?';
    const socket = new WebSocket(`${this.url}${separator}token=${encodeURIComponent(token)}`);
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.setStatus('open');
    };
    socket.onmessage = (event) => {
      if (typeof event.data !== 'string') return;
      let notice: Notice;
      try {
        notice = JSON.parse(event.data) as Notice;
      } catch {
        return;
      }
      if (typeof notice?.type !== 'string') return;
      for (const listener of this.noticeListeners) listener(notice);
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (!this.wanted) return;
      this.setStatus('waiting');
      const delay = backoffDelay(this.attempt);
      this.attempt += 1;
      this.timer = window.setTimeout(() => {
        this.timer = undefined;
        void this.connect();
      }, delay);
    };
  }
}
