/**
 * Who is signed in: the key, which kind it is (admin: everything; client: its own self-service view), and
 * an ApiClient for it. Keys live in memory, and in sessionStorage only when "remember for this tab" was
 * ticked; never in localStorage. Signing out forgets both.
 */
import { createContext, type ReactNode, useCallback, useContext, useMemo, useState } from 'react';
import { ApiClient } from '../api/client';

export type KeyKind = 'admin' | 'client';

export interface SessionData {
  key: string;
  kind: KeyKind;
  /** For an admin: a client key the playground spends (the admin key is not a client key). */
  playgroundKey?: string;
  remember: boolean;
}

export interface Session extends SessionData {
  api: ApiClient;
  /** The client API's caller: the client key itself, or an admin's playground key. */
  clientApi: ApiClient | undefined;
}

interface SessionContextValue {
  session: Session | undefined;
  signIn(data: SessionData): void;
  setPlaygroundKey(key: string | undefined): void;
  signOut(): void;
}

const STORAGE_KEY = 'imagegate.console.session';
const SessionContext = createContext<SessionContextValue | undefined>(undefined);

function readStored(): SessionData | undefined {
  try {
    const raw = window.sessionStorage.getItem(STORAGE_KEY);
    if (!raw) return undefined;
    const parsed = JSON.parse(raw) as Partial<SessionData>;
    if (typeof parsed.key !== 'string' || (parsed.kind !== 'admin' && parsed.kind !== 'client')) return undefined;
    return { key: parsed.key, kind: parsed.kind, remember: true, ...(typeof parsed.playgroundKey === 'string' ? { playgroundKey: parsed.playgroundKey } : {}) };
  } catch {
    return undefined;
  }
}

function store(data: SessionData | undefined): void {
  try {
    if (data?.remember) window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(data));
    else window.sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage refused (a private window's quota): the session stays in memory only.
  }
}

function toSession(data: SessionData): Session {
  const clientKey = data.kind === 'client' ? data.key : data.playgroundKey;
  return { ...data, api: new ApiClient(data.key), clientApi: clientKey ? new ApiClient(clientKey) : undefined };
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [data, setData] = useState<SessionData | undefined>(readStored);
  const update = useCallback((next: SessionData | undefined) => {
    store(next);
    setData(next);
  }, []);
  const value = useMemo<SessionContextValue>(
    () => ({
      session: data ? toSession(data) : undefined,
      signIn: update,
      setPlaygroundKey: (key) => {
        if (!data) return;
        const { playgroundKey: _old, ...rest } = data;
        update(key ? { ...rest, playgroundKey: key } : rest);
      },
      signOut: () => update(undefined),
    }),
    [data, update],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSessionContext(): SessionContextValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSessionContext outside SessionProvider');
  return value;
}

/** The signed-in session; pages render only inside the signed-in shell, so it is always there. */
export function useSession(): Session {
  const { session } = useSessionContext();
  if (!session) throw new Error('useSession before sign-in');
  return session;
}
