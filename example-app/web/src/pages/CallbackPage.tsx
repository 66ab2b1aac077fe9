import { useEffect, useState } from 'react';
import { useNavigate } from 'react-router';
import { Alert, Spinner, usePageTitle } from '../components/Feedback';
import { useServices } from '../services';

// The code can be exchanged once: a second run of the effect (StrictMode) reuses the first's.
let completing: Promise<string> | null = null;

/** `/callback`: where the issuer sends the browser back after sign-in. */
export default function CallbackPage() {
  usePageTitle('Signing in');
  const { auth } = useServices();
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    completing ??= auth.completeSignIn();
    completing
      .then((target) => navigate(target, { replace: true }))
      .catch((failure: unknown) => setError(failure instanceof Error ? failure.message : String(failure)))
      .finally(() => {
        completing = null;
      });
  }, [auth, navigate]);

  if (!error) return <Spinner label="Signing you in" />;
  return (
    <>
      <h1>Sign-in did not complete</h1>
      <Alert>{error}</Alert>
      <button
        type="button"
        className="button button-primary"
        onClick={() => void auth.signIn('/').catch(() => undefined)}
      >
        Try again
      </button>
    </>
  );
}
