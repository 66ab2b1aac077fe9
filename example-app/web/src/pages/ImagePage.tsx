import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router';
import { ApiError, describeError, type Group, type Image } from '../api';
import { Alert, Spinner, usePageTitle } from '../components/Feedback';
import { fullDate } from '../format';
import { useNotices, useServices } from '../services';

/** `/images/:imageId`: the full image, its title, group, uploader and time. */
export default function ImagePage() {
  const { imageId = '' } = useParams();
  const { api } = useServices();
  const [image, setImage] = useState<Image | null>(null);
  const [group, setGroup] = useState<Group | null>(null);
  const [error, setError] = useState<string | null>(null);
  usePageTitle(image?.title ?? null);

  useEffect(() => {
    let stale = false;
    setImage(null);
    setGroup(null);
    setError(null);
    api
      .getImage(imageId)
      .then(async (found) => {
        if (stale) return;
        setImage(found);
        // The group's name is a nicety: the page stands without it.
        const owner = await api.getGroup(found.groupId).catch(() => null);
        if (!stale) setGroup(owner);
      })
      .catch(
        (failure: unknown) =>
          !stale &&
          setError(
            failure instanceof ApiError && failure.status === 404
              ? 'There is no such image. Its link may be mistyped.'
              : describeError(failure),
          ),
      );
    return () => {
      stale = true;
    };
  }, [api, imageId]);

  useNotices((notice) => {
    if (notice.type === 'imageReady' && notice.imageId === imageId) {
      void api.getImage(imageId).then(setImage, () => undefined);
    }
  });

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
  if (!image) return <Spinner label="Loading the image" />;
  const groupName = group?.name ?? 'its group';
  return (
    <>
      <nav className="breadcrumbs" aria-label="Breadcrumbs">
        <Link to="/">Groups</Link> <span aria-hidden="true">/</span>{' '}
        <Link to={`/groups/${image.groupId}`}>{groupName}</Link> <span aria-hidden="true">/</span>{' '}
        <span aria-current="page">{image.title}</span>
      </nav>
      <article className="image-page">
        <figure className="image-full">
          {image.status === 'ready' ? (
            <img src={image.imageUrl} alt={image.title} />
          ) : (
            <div className="thumb-pending large" data-status="pending">
              <span className="spinner-ring" aria-hidden="true" />
              <span>Processing the upload…</span>
            </div>
          )}
        </figure>
        <div className="image-details card">
          <h1>{image.title}</h1>
          <dl>
            <dt>Group</dt>
            <dd>
              <Link to={`/groups/${image.groupId}`}>{groupName}</Link>
            </dd>
            <dt>Uploaded by</dt>
            <dd>{image.userId}</dd>
            <dt>Added</dt>
            <dd>
              <time dateTime={image.timestamp}>{fullDate(image.timestamp)}</time>
            </dd>
          </dl>
          {image.status === 'ready' && (
            <a className="button" href={image.imageUrl} target="_blank" rel="noreferrer">
              Open the original
            </a>
          )}
        </div>
      </article>
    </>
  );
}
