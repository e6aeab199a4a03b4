/** The console's entry: data cache, session, router (paths under /console), and sign-in before anything else. */
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { Router } from 'wouter';
import { ApiError } from './api/errors';
import { Shell } from './app/Shell';
import { SessionProvider, useSessionContext } from './session/session';
import { SignIn } from './session/SignIn';
import './styles/app.css';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // The gateway's 4xx answers are final: asking again shows the same message later.
      retry: (failures, error) => failures < 2 && !(error instanceof ApiError && error.status < 500),
      refetchOnWindowFocus: false,
      staleTime: 5_000,
    },
  },
});

function Root() {
  const { session } = useSessionContext();
  return session ? <Shell /> : <SignIn />;
}

const container = document.getElementById('root');
if (!container) throw new Error('no #root in index.html');
createRoot(container).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <SessionProvider>
        <Router base="/console">
          <Root />
        </Router>
      </SessionProvider>
    </QueryClientProvider>
  </StrictMode>,
);
