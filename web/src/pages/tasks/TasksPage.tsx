/** Tasks (admin): the async tasks with live states, filtered by state, model, key and dates; a task's timeline beside. */
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'wouter';
import type { ListAnswer } from '../../api/types';
import { EmptyState } from '../../components/EmptyState';
import { ErrorNotice } from '../../components/ErrorNotice';
import { Page } from '../../components/Page';
import { useSession } from '../../session/session';
import { dayBound, formatTime } from '../gallery/format';
import { TaskTimeline } from './TaskTimeline';
import { type AdminTask, isLive, TASK_STATES, type TaskFilters } from './types';

const PAGE_SIZE = 50;
const LIVE_POLL_MS = 1500;
/** With nothing running, a slower look for new tasks. */
const IDLE_POLL_MS = 10_000;

export function TasksPage() {
  const { api } = useSession();
  const [filters, setFilters] = useState<TaskFilters>({});
  // By cursor: the next_cursor of each page before this one ([] on the newest page). An offset's page
  // would slide while new tasks arrive under the polling below; a cursor's stays put.
  const [cursors, setCursors] = useState<string[]>([]);
  const [selected, setSelected] = useState<string | undefined>();
  const query = {
    state: filters.state,
    model: filters.model,
    key: filters.key,
    from: dayBound(filters.from, 'start'),
    to: dayBound(filters.to, 'end'),
    limit: PAGE_SIZE,
    after: cursors.at(-1),
  };
  const tasks = useQuery({
    queryKey: ['admin', 'tasks', query],
    queryFn: ({ signal }) => api.get<ListAnswer<AdminTask>>('/admin/api/tasks', query, signal),
    // Live states: poll fast while any task shown is queued or running.
    refetchInterval: (q) => (q.state.data?.data.some((task) => isLive(task.state)) ? LIVE_POLL_MS : IDLE_POLL_MS),
  });
  const change = (next: TaskFilters) => {
    setFilters(next);
    setCursors([]);
  };
  const filtered = Object.values(filters).some(Boolean);

  return (
    <Page
      title="Tasks"
      actions={
        <button type="button" onClick={() => void tasks.refetch()} disabled={tasks.isFetching}>
          Refresh
        </button>
      }
    >
      <TaskFilterBar filters={filters} onChange={change} />
      {tasks.isError ? <ErrorNotice error={tasks.error} /> : null}
      {tasks.isPending ? <p className="muted">Loading tasks…</p> : null}
      {tasks.data && tasks.data.data.length === 0 ? (
        filtered || cursors.length > 0 ? (
          <EmptyState title="No tasks match">Clear a filter to see more.</EmptyState>
        ) : (
          <EmptyState title="No tasks yet">
            Submit one from the <Link href="/playground">Playground</Link> in its async mode, or send <code>X-New-Api-Async-Task: true</code> with a generation,
            or use the task API's <code>POST /api/v1/images/generations</code> (see the gateway's docs/tasks.md).
          </EmptyState>
        )
      ) : null}
      {tasks.data && tasks.data.data.length > 0 ? (
        <div className={selected ? 'split with-detail' : 'split'}>
          <div className="table-wrap">
            <table className="data-table">
              <caption className="muted">{tasks.data.data.some((t) => isLive(t.state)) ? 'Updating while tasks run' : 'Newest first'}</caption>
              <thead>
                <tr>
                  <th scope="col">Task</th>
                  <th scope="col">State</th>
                  <th scope="col">Model</th>
                  <th scope="col">Key</th>
                  <th scope="col">Created</th>
                  <th scope="col">Attempts</th>
                </tr>
              </thead>
              <tbody>
                {tasks.data.data.map((task) => (
                  <tr key={task.id} className={task.id === selected ? 'selected' : undefined}>
                    <td>
                      <button type="button" className="link-button" aria-pressed={task.id === selected} onClick={() => setSelected(task.id)}>
                        {task.id}
                      </button>
                    </td>
                    <td>
                      <span className={`badge state-${task.state}`}>{task.state}</span>
                    </td>
                    <td>{task.model}</td>
                    <td>
                      {/* A key id is a UUID: its first 8 characters tell keys apart in a list (the whole id on hover). */}
                      <code title={task.key_id ?? undefined}>{task.key_id ? task.key_id.slice(0, 8) : '—'}</code>
                    </td>
                    <td>{formatTime(task.created_at)}</td>
                    <td>{task.attempts}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <div className="inline-form">
              <button type="button" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
                Newer
              </button>
              <OlderButton next={tasks.data.has_more ? tasks.data.next_cursor : null} onOlder={(cursor) => setCursors([...cursors, cursor])} />
            </div>
          </div>
          {selected ? <TaskTimeline id={selected} onClose={() => setSelected(undefined)} /> : null}
        </div>
      ) : null}
    </Page>
  );
}

function TaskFilterBar({ filters, onChange }: { filters: TaskFilters; onChange: (next: TaskFilters) => void }) {
  const set = (name: keyof TaskFilters) => (event: { target: { value: string } }) => onChange({ ...filters, [name]: event.target.value.trim() });
  return (
    <form className="inline-form filters" aria-label="Filters" onSubmit={(event) => event.preventDefault()}>
      <label className="field">
        <span>State</span>
        <select value={filters.state ?? ''} onChange={set('state')}>
          <option value="">any</option>
          {TASK_STATES.map((state) => (
            <option key={state} value={state}>
              {state}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>Model</span>
        <input value={filters.model ?? ''} onChange={set('model')} />
      </label>
      <label className="field">
        <span>Key</span>
        <input value={filters.key ?? ''} onChange={set('key')} placeholder="id or prefix" />
      </label>
      <label className="field">
        <span>From</span>
        <input type="date" value={filters.from ?? ''} onChange={set('from')} />
      </label>
      <label className="field">
        <span>To</span>
        <input type="date" value={filters.to ?? ''} onChange={set('to')} />
      </label>
    </form>
  );
}

/** Older: the page after this one's last task (none past the last page). */
function OlderButton({ next, onOlder }: { next: string | null | undefined; onOlder: (cursor: string) => void }) {
  return (
    <button type="button" disabled={!next} onClick={() => (next ? onOlder(next) : undefined)}>
      Older
    </button>
  );
}
