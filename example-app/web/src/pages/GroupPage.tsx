import { useCallback, useEffect, useRef, useState } from 'react';
import { Link, useParams } from 'react-router';
import { ApiError, describeError, type Group, type Image } from '../api';
import { Alert, EmptyState, Spinner, usePageTitle } from '../components/Feedback';
import { ImageGrid } from '../components/ImageGrid';
import { LoadMore } from '../components/LoadMore';
import { UploadPanel } from '../components/UploadPanel';
import { fullDate, timeAgo } from '../format';
import { mergeImages } from '../images';
import { useAccount, useLiveStatus, useNotices, useServices } from '../services';

const PAGE_SIZE = 30;
/** Without live notices (signed out, or reconnecting), pending images are re-read this often. */
const POLL_MS = 5000;

/** `/groups/:groupId`: the group's images, live, and the upload form. */
export default function GroupPage() {
  const { groupId = '' } = useParams();
  const { api, auth } = useServices();
  const account = useAccount();
  const live = useLiveStatus();
  const [group, setGroup] = useState<Group | null>(null);
  const [images, setImages] = useState<Image[] | null>(null);
  const [nextKey, setNextKey] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [failed, setFailed] = useState<ReadonlySet<string>>(new Set());
  // What arrived live, for screen readers (sighted users see the grid change).
  const [announcement, setAnnouncement] = useState('');
  const imagesRef = useRef<Image[]>([]);
  imagesRef.current = images ?? [];
  usePageTitle(group?.name ?? null);

  useEffect(() => {
    let stale = false;
    setGroup(null);
    setImages(null);
    setNextKey(null);
    setError(null);
    Promise.all([api.getGroup(groupId), api.listImages(groupId, PAGE_SIZE)])
      .then(([found, page]) => {
        if (stale) return;
        setGroup(found);
        setImages(page.items);
        setNextKey(page.nextKey ?? null);
      })
      .catch(
        (failure: unknown) =>
          !stale &&
          setError(
            failure instanceof ApiError && failure.status === 404
              ? 'There is no such group. Its link may be mistyped.'
              : describeError(failure),
          ),
      );
    return () => {
      stale = true;
    };
  }, [api, groupId]);

  const loadMore = useCallback(async () => {
    if (!nextKey || loading) return;
    setLoading(true);
    try {
      const page = await api.listImages(groupId, PAGE_SIZE, nextKey);
      setImages((before) => mergeImages(before ?? [], page.items));
      setNextKey(page.nextKey ?? null);
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setLoading(false);
    }
  }, [api, groupId, nextKey, loading]);

  /** Re-reads the first page and merges it: new images from others appear, pending ones turn ready. */
  const refresh = useCallback(async () => {
    try {
      const page = await api.listImages(groupId, PAGE_SIZE);
      const known = new Set(imagesRef.current.map((image) => image.imageId));
      const arrived = page.items.filter((image) => !known.has(image.imageId) && image.status === 'ready');
      setImages((before) => mergeImages(before ?? [], page.items));
      if (arrived.length > 0) {
        setAnnouncement(arrived.map((image) => `New image from ${image.userId}: ${image.title}.`).join(' '));
      }
    } catch {
      // A failed refresh changes nothing on screen; the next notice or poll tries again.
    }
  }, [api, groupId]);

  const refreshImage = useCallback(
    async (imageId: string) => {
      try {
        const image = await api.getImage(imageId);
        setImages((before) => mergeImages(before ?? [], [image]));
        if (image.status === 'ready') setAnnouncement(`“${image.title}” is ready.`);
      } catch {
        // As above.
      }
    },
    [api],
  );

  useNotices((notice) => {
    if (notice.type !== 'imageReady' || notice.groupId !== groupId || !notice.imageId) return;
    // There is no notice for a new record: an unknown image is someone else's, on the first page.
    if (imagesRef.current.some((image) => image.imageId === notice.imageId)) void refreshImage(notice.imageId);
    else void refresh();
  });

  // After a reconnection, catch up on what the notices missed.
  const wasOpen = useRef(live === 'open');
  useEffect(() => {
    if (live === 'open' && !wasOpen.current) void refresh();
    wasOpen.current = live === 'open';
  }, [live, refresh]);

  const hasPending = images?.some((image) => image.status === 'pending') ?? false;
  useEffect(() => {
    if (live === 'open' || !hasPending) return;
    const timer = window.setInterval(() => void refresh(), POLL_MS);
    return () => window.clearInterval(timer);
  }, [live, hasPending, refresh]);

  if (error) {
    return (
      <>
        <Alert>{error}</Alert>
        <p>
          <Link to="/">Back to the groups</Link>
        </p>
      </>
    );
  }
  if (!group || !images) return <Spinner label="Loading the group" />;
  return (
    <>
      <nav className="breadcrumbs" aria-label="Breadcrumbs">
        <Link to="/">Groups</Link> <span aria-hidden="true">/</span> <span aria-current="page">{group.name}</span>
      </nav>
      <section className="intro">
        <div>
          <h1>{group.name}</h1>
          {group.description && <p className="lead">{group.description}</p>}
          <p className="meta">
            Created by {group.userId} ·{' '}
            <time dateTime={group.timestamp} title={fullDate(group.timestamp)}>
              {timeAgo(group.timestamp)}
            </time>
          </p>
        </div>
      </section>
      {account ? (
        <UploadPanel
          groupId={groupId}
          onCreated={(image) => setImages((before) => mergeImages(before ?? [], [image]))}
          onFailed={(imageId) => setFailed((before) => new Set(before).add(imageId))}
        />
      ) : (
        <div className="card signin-prompt">
          <p>Sign in to add your images to this group.</p>
          <button
            type="button"
            className="button button-primary"
            onClick={() => void auth.signIn().catch(() => undefined)}
          >
            Sign in
          </button>
        </div>
      )}
      <h2 className="section-title">Images</h2>
      <p className="visually-hidden" aria-live="polite" data-testid="arrivals">
        {announcement}
      </p>
      {images.length === 0 ? (
        <EmptyState title="No images yet">
          <p>{account ? 'Add the first one with the form above.' : 'Sign in to add the first one.'}</p>
        </EmptyState>
      ) : (
        <ImageGrid images={images} label={`Images in ${group.name}`} failed={failed} />
      )}
      {nextKey && <LoadMore auto loading={loading} onLoad={() => void loadMore()} />}
    </>
  );
}
