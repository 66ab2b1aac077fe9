import { type ReactNode, useEffect } from 'react';

/** Sets the document title ("Cats · Udagram"). */
export function usePageTitle(title: string | null) {
  useEffect(() => {
    document.title = title ? `${title} · Udagram` : 'Udagram';
  }, [title]);
}

/** A loading indicator that screen readers announce. */
export function Spinner({ label }: { label: string }) {
  return (
    <div className="spinner" role="status">
      <span className="spinner-ring" aria-hidden="true" />
      <span>{label}…</span>
    </div>
  );
}

/** An error or notice box; errors are announced as they appear. */
export function Alert({ kind = 'error', children }: { kind?: 'error' | 'info' | 'success'; children: ReactNode }) {
  return (
    <div className={`alert alert-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

/** What an empty list says, and what to do about it. */
export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <svg className="empty-art" viewBox="0 0 64 64" aria-hidden="true">
        <rect x="6" y="12" width="52" height="40" rx="8" />
        <circle cx="22" cy="27" r="5" />
        <path d="M10 48l14-12 10 8 8-6 12 10" />
      </svg>
      <h2>{title}</h2>
      {children}
    </div>
  );
}
