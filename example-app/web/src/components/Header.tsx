import { type FormEvent, useState } from 'react';
import { Link, useLocation, useNavigate, useSearchParams } from 'react-router';
import { useAccount, useLiveStatus, useServices } from '../services';

const LIVE_LABELS = {
  off: 'Live updates off',
  connecting: 'Connecting for live updates',
  open: 'Live updates on',
  waiting: 'Live updates reconnecting',
} as const;

function SearchBox() {
  const [params] = useSearchParams();
  const { pathname } = useLocation();
  const navigate = useNavigate();
  const current = pathname === '/search' ? (params.get('q') ?? '') : '';
  const [text, setText] = useState(current);
  const [seen, setSeen] = useState(current);
  if (current !== seen) {
    setSeen(current);
    setText(current);
  }
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const q = text.trim();
    navigate(q ? `/search?q=${encodeURIComponent(q)}` : '/search');
  };
  return (
    <form className="search" role="search" onSubmit={submit}>
      <label htmlFor="search-input" className="visually-hidden">
        Search images by title
      </label>
      <svg className="search-icon" viewBox="0 0 24 24" aria-hidden="true">
        <circle cx="11" cy="11" r="7" />
        <path d="M20 20l-4-4" />
      </svg>
      <input
        id="search-input"
        type="search"
        placeholder="Search images"
        value={text}
        maxLength={200}
        onChange={(event) => setText(event.target.value)}
      />
    </form>
  );
}

function UserMenu() {
  const { auth } = useServices();
  const account = useAccount();
  const live = useLiveStatus();
  const [busy, setBusy] = useState(false);
  if (!account) {
    return (
      <div className="user">
        <button
          type="button"
          className="button button-primary"
          disabled={busy}
          onClick={() => {
            setBusy(true);
            auth.signIn().catch(() => setBusy(false));
          }}
        >
          Sign in
        </button>
      </div>
    );
  }
  return (
    <div className="user">
      <span className={`live-dot live-${live}`} data-live-status={live} title={LIVE_LABELS[live]}>
        <span className="visually-hidden">{LIVE_LABELS[live]}</span>
      </span>
      <span className="avatar" aria-hidden="true">
        {account.name.slice(0, 1).toUpperCase()}
      </span>
      <span className="user-name" data-testid="user-name">
        {account.name}
      </span>
      <button
        type="button"
        className="button button-quiet"
        disabled={busy}
        onClick={() => {
          setBusy(true);
          auth.signOut().finally(() => setBusy(false));
        }}
      >
        Sign out
      </button>
    </div>
  );
}

/** The header: the app's name, the search box, the user menu. */
export function Header() {
  return (
    <header className="header">
      <div className="header-inner">
        <Link to="/" className="brand">
          <svg viewBox="0 0 32 32" aria-hidden="true" className="brand-mark">
            <rect width="32" height="32" rx="8" />
            <rect x="7" y="9" width="18" height="14" rx="3" className="brand-frame" />
            <circle cx="13" cy="14" r="2" className="brand-sun" />
            <path d="M8 22l6-5 4 3 3-2 4 4" className="brand-hill" />
          </svg>
          <span>Udagram</span>
        </Link>
        <SearchBox />
        <UserMenu />
      </div>
    </header>
  );
}
