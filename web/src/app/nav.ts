/**
 * The console's pages: path (under /console), nav label, who sees it, and the component. Adding a page is one
 * entry here (web/README.md). Admin: everything; a client key: its own self-service pages.
 */
import type { ComponentType } from 'react';
import { AccountPage } from '../pages/account/AccountPage';
import { ChannelsPage } from '../pages/channels/ChannelsPage';
import { GalleryPage } from '../pages/gallery/GalleryPage';
import { KeysPage } from '../pages/keys/KeysPage';
import { PlaygroundPage } from '../pages/playground/PlaygroundPage';
import { TasksPage } from '../pages/tasks/TasksPage';
import { UsagePage } from '../pages/usage/UsagePage';
import type { KeyKind } from '../session/session';

export interface PageEntry {
  path: string;
  label: string;
  kinds: readonly KeyKind[];
  component: ComponentType;
}

export const PAGES: readonly PageEntry[] = [
  { path: '/playground', label: 'Playground', kinds: ['admin', 'client'], component: PlaygroundPage },
  { path: '/gallery', label: 'Gallery', kinds: ['admin'], component: GalleryPage },
  { path: '/tasks', label: 'Tasks', kinds: ['admin'], component: TasksPage },
  { path: '/channels', label: 'Channels', kinds: ['admin'], component: ChannelsPage },
  { path: '/keys', label: 'Keys', kinds: ['admin'], component: KeysPage },
  { path: '/usage', label: 'Usage', kinds: ['admin'], component: UsagePage },
  { path: '/account', label: 'Account', kinds: ['client'], component: AccountPage },
];

export function pagesFor(kind: KeyKind): PageEntry[] {
  return PAGES.filter((page) => page.kinds.includes(kind));
}
