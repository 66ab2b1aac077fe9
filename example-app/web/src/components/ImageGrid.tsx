import { Link } from 'react-router';
import type { Image } from '../api';
import { fullDate, timeAgo } from '../format';

/**
 * A pending record older than this will never be ready: its upload URL (valid 5 minutes) has
 * expired without the bytes arriving.
 */
const ABANDONED_MS = 15 * 60 * 1000;

/** One image in a grid: its thumbnail, a placeholder while the upload is processed, or why not. */
export function ImageCard({ image, failed = false }: { image: Image; failed?: boolean }) {
  const ready = image.status === 'ready' && image.thumbnailUrl;
  const abandoned = !ready && Date.now() - Date.parse(image.timestamp) > ABANDONED_MS;
  const status = ready ? 'ready' : failed ? 'failed' : 'pending';
  return (
    <li className="image-card" data-image-id={image.imageId} data-status={status}>
      <Link to={`/images/${image.imageId}`} className="image-link">
        <div className="thumb">
          {ready ? (
            <img src={image.thumbnailUrl} alt={image.title} loading="lazy" decoding="async" width={150} height={150} />
          ) : failed || abandoned ? (
            <div className="thumb-pending thumb-failed">
              <span>{failed ? 'Upload failed' : 'Never uploaded'}</span>
            </div>
          ) : (
            <div className="thumb-pending">
              <span className="spinner-ring" aria-hidden="true" />
              <span>Processing…</span>
            </div>
          )}
        </div>
        <div className="image-caption">
          <span className="image-title">{image.title}</span>
          <span className="image-meta">
            {image.userId} ·{' '}
            <time dateTime={image.timestamp} title={fullDate(image.timestamp)}>
              {timeAgo(image.timestamp)}
            </time>
          </span>
        </div>
      </Link>
    </li>
  );
}

/** A responsive grid of image cards. */
export function ImageGrid({
  images,
  label,
  failed,
}: {
  images: Image[];
  label: string;
  /** Images whose upload failed in this tab. */
  failed?: ReadonlySet<string>;
}) {
  return (
    <ul className="image-grid" aria-label={label}>
      {images.map((image) => (
        <ImageCard key={image.imageId} image={image} failed={failed?.has(image.imageId)} />
      ))}
    </ul>
  );
}
