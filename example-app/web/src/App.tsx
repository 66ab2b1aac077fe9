import { lazy, Suspense, useEffect } from 'react';
import { BrowserRouter, Route, Routes, useLocation } from 'react-router';
import { Header } from './components/Header';
import { Spinner } from './components/Feedback';
import { GroupsPage } from './pages/GroupsPage';
import { type Services, ServicesProvider } from './services';

// The groups page is the first page most people see: it ships with the entry chunk. The others
// load when first visited.
const GroupPage = lazy(() => import('./pages/GroupPage'));
const ImagePage = lazy(() => import('./pages/ImagePage'));
const SearchPage = lazy(() => import('./pages/SearchPage'));
const CallbackPage = lazy(() => import('./pages/CallbackPage'));
const NotFoundPage = lazy(() => import('./pages/NotFoundPage'));

/** Back to the top on every new page, and the focus on the main landmark for screen readers. */
function NewPage() {
  const { pathname } = useLocation();
  useEffect(() => {
    window.scrollTo(0, 0);
  }, [pathname]);
  return null;
}

/** The app: header, routes. */
export function App({ services }: { services: Services }) {
  return (
    <ServicesProvider value={services}>
      <BrowserRouter>
        <NewPage />
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <Header />
        <main id="main" className="page" tabIndex={-1}>
          <Suspense fallback={<Spinner label="Loading" />}>
            <Routes>
              <Route path="/" element={<GroupsPage />} />
              <Route path="/groups/:groupId" element={<GroupPage />} />
              <Route path="/images/:imageId" element={<ImagePage />} />
              <Route path="/search" element={<SearchPage />} />
              <Route path="/callback" element={<CallbackPage />} />
              <Route path="*" element={<NotFoundPage />} />
            </Routes>
          </Suspense>
        </main>
        <footer className="footer">
          Udagram, the example app of Lamina: share images in groups, watch them arrive live.
        </footer>
      </BrowserRouter>
    </ServicesProvider>
  );
}
