import { Link } from 'react-router';
import type { Image } from '../api';
import { fullDate, timeAgo } from '../format';

/** One image in a grid: its thumbnail, or a placeholder while the upload is processed. */
export function ImageCard({ image }: { image: Image }) {
  const ready = image.status === 'ready' && image.thumbnailUrl;
  return (
    <li className="image-card" data-image-id={image.imageId} data-status={ready ? 'ready' : 'pending'}>
      <Link to={`/images/${image.imageId}`} className="image-link">
        <div className="thumb">
          {ready ? (
            <img src={image.thumbnailUrl} alt={image.title} loading="lazy" decoding="async" width={150} height={150} />
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
export function ImageGrid({ images, label }: { images: Image[]; label: string }) {
  return (
    <ul className="image-grid" aria-label={label}>
      {images.map((image) => (
        <ImageCard key={image.imageId} image={image} />
      ))}
    </ul>
  );
}
