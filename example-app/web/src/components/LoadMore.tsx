import { useEffect, useRef } from 'react';

/**
 * The "Load more" button of a paged list. With `auto`, it also loads the next page when it scrolls
 * into view (infinite scroll), and only then: a long list never loads everything up front.
 */
export function LoadMore({ onLoad, loading, auto = false }: { onLoad: () => void; loading: boolean; auto?: boolean }) {
  const button = useRef<HTMLButtonElement>(null);
  const latest = useRef(onLoad);
  latest.current = onLoad;
  useEffect(() => {
    const element = button.current;
    if (!auto || !element || loading || typeof IntersectionObserver === 'undefined') return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) latest.current();
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, [auto, loading]);
  return (
    <div className="load-more">
      <button ref={button} type="button" className="button" onClick={onLoad} disabled={loading}>
        {loading ? 'Loading…' : 'Load more'}
      </button>
    </div>
  );
}
