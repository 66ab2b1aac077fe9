import { Link } from 'react-router';
import { EmptyState, usePageTitle } from '../components/Feedback';

/** Any other path. */
export default function NotFoundPage() {
  usePageTitle('Not found');
  return (
    <>
      <h1 className="visually-hidden">Not found</h1>
      <EmptyState title="This page does not exist">
        <p>
          <Link to="/">See the groups</Link>
        </p>
      </EmptyState>
    </>
  );
}
