import { useEffect, useState } from 'react';
import { useSearchParams } from 'react-router';
import { describeError, type Image } from '../api';
import { Alert, EmptyState, Spinner, usePageTitle } from '../components/Feedback';
import { ImageGrid } from '../components/ImageGrid';
import { useServices } from '../services';

/** `/search?q=`: images whose titles match, best match first. */
export default function SearchPage() {
  const [params] = useSearchParams();
  const q = (params.get('q') ?? '').trim();
  const { api } = useServices();
  const [results, setResults] = useState<{ q: string; items: Image[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  usePageTitle(q ? `Search: ${q}` : 'Search');

  useEffect(() => {
    let stale = false;
    setError(null);
    if (!q) return;
    api
      .search(q)
      .then((items) => !stale && setResults({ q, items }))
      .catch((failure: unknown) => !stale && setError(describeError(failure)));
    return () => {
      stale = true;
    };
  }, [api, q]);

  const current = results?.q === q ? results.items : null;
  return (
    <>
      <section className="intro">
        <div>
          <h1>{q ? <>Images matching “{q}”</> : 'Search'}</h1>
          {current && q && (
            <p className="lead">
              {current.length === 0
                ? 'No matches.'
                : `${current.length} ${current.length === 1 ? 'image' : 'images'}, best match first.`}
            </p>
          )}
        </div>
      </section>
      {!q && (
        <EmptyState title="Search images by title">
          <p>Type a word of a title in the search box above.</p>
        </EmptyState>
      )}
      {error && <Alert>{error}</Alert>}
      {q && !current && !error && <Spinner label="Searching" />}
      {current?.length === 0 && (
        <EmptyState title="Nothing found">
          <p>No image title contains “{q}”. Try another word.</p>
        </EmptyState>
      )}
      {current && current.length > 0 && <ImageGrid images={current} label="Search results" />}
    </>
  );
}
