/** The signed-in frame: a nav of the pages this key may see, the theme toggle, sign-out, and the routed page. */
import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, Redirect, Route, Switch, useLocation } from 'wouter';
import { EmptyState } from '../components/EmptyState';
import { useSessionContext } from '../session/session';
import { pagesFor } from './nav';
import { useTheme } from './theme';

export function Shell() {
  const { session, signOut } = useSessionContext();
  const [location] = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const theme = useTheme();
  const queryClient = useQueryClient();
  if (!session) return null;
  const pages = pagesFor(session.kind);
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">imagegate</span>
        <button type="button" className="menu-toggle" aria-expanded={menuOpen} aria-controls="nav" onClick={() => setMenuOpen((open) => !open)}>
          Menu
        </button>
        <nav id="nav" className={menuOpen ? 'nav open' : 'nav'} aria-label="Console">
          <ul>
            {pages.map((page) => (
              <li key={page.path}>
                <Link href={page.path} aria-current={location === page.path ? 'page' : undefined} onClick={() => setMenuOpen(false)}>
                  {page.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="topbar-end">
          <span className="key-kind" data-testid="key-kind">
            {session.kind === 'admin' ? 'admin key' : 'client key'}
          </span>
          <button type="button" className="ghost" onClick={theme.next} title="Theme: system, light or dark">
            Theme: {theme.choice}
          </button>
          <button
            type="button"
            className="ghost"
            onClick={() => {
              // What this key was shown goes with it: the next key starts from an empty cache.
              queryClient.clear();
              signOut();
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Switch>
          <Route path="/">
            <Redirect to="/playground" replace />
          </Route>
          {pages.map((page) => (
            <Route key={page.path} path={page.path} component={page.component} />
          ))}
          <Route>
            <EmptyState title="Not here">This page does not exist, or this key may not see it. Pick one from the menu.</EmptyState>
          </Route>
        </Switch>
      </main>
    </div>
  );
}
