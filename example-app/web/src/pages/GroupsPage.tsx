import { useCallback, useEffect, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { describeError, type Group } from '../api';
import { Alert, EmptyState, Spinner, usePageTitle } from '../components/Feedback';
import { LoadMore } from '../components/LoadMore';
import { NewGroupForm } from '../components/NewGroupForm';
import { fullDate, timeAgo } from '../format';
import { useAccount, useServices } from '../services';

const PAGE_SIZE = 20;

function GroupCard({ group }: { group: Group }) {
  return (
    <li className="card group-card">
      <Link to={`/groups/${group.id}`} className="group-link">
        <h3>{group.name}</h3>
      </Link>
      {group.description && <p className="group-description">{group.description}</p>}
      <p className="meta">
        by {group.userId} ·{' '}
        <time dateTime={group.timestamp} title={fullDate(group.timestamp)}>
          {timeAgo(group.timestamp)}
        </time>
      </p>
    </li>
  );
}

/** `/`: every group, newest first, and the form that creates one. */
export function GroupsPage() {
  usePageTitle(null);
  const { api, auth } = useServices();
  const account = useAccount();
  const navigate = useNavigate();
  const [groups, setGroups] = useState<Group[] | null>(null);
  const [nextKey, setNextKey] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);

  const load = useCallback(
    async (after: string | null) => {
      setLoading(true);
      setError(null);
      try {
        const page = await api.listGroups(PAGE_SIZE, after);
        setGroups((before) => (after && before ? [...before, ...page.items] : page.items));
        setNextKey(page.nextKey ?? null);
      } catch (failure) {
        setError(describeError(failure));
      } finally {
        setLoading(false);
      }
    },
    [api],
  );

  useEffect(() => {
    void load(null);
  }, [load]);

  const start = account ? () => setCreating(true) : () => void auth.signIn().catch(() => undefined);
  return (
    <>
      <section className="intro">
        <div>
          <h1>Groups</h1>
          <p className="lead">Collections of images, newest first. Open one to see its images as they arrive.</p>
        </div>
        {account && !creating && (
          <button type="button" className="button button-primary" onClick={start}>
            New group
          </button>
        )}
      </section>
      {creating && (
        <NewGroupForm onCancel={() => setCreating(false)} onCreated={(group) => navigate(`/groups/${group.id}`)} />
      )}
      {error && (
        <Alert>
          {error}{' '}
          <button type="button" className="button-link" onClick={() => void load(null)}>
            Try again
          </button>
        </Alert>
      )}
      {groups === null && !error && <Spinner label="Loading groups" />}
      {groups?.length === 0 && (
        <EmptyState title="No groups yet">
          {account ? (
            <p>Create the first group, then add images to it. Everyone sees them arrive live.</p>
          ) : (
            <p>Sign in to create the first group and share images in it.</p>
          )}
          {!creating && (
            <button type="button" className="button button-primary" onClick={start}>
              {account ? 'Create a group' : 'Sign in to start'}
            </button>
          )}
        </EmptyState>
      )}
      {groups && groups.length > 0 && (
        <ul className="group-list" aria-label="Groups">
          {groups.map((group) => (
            <GroupCard key={group.id} group={group} />
          ))}
        </ul>
      )}
      {nextKey && <LoadMore loading={loading} onLoad={() => void load(nextKey)} />}
    </>
  );
}
