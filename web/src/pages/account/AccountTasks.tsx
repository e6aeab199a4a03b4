/** The key's own async tasks, newest first (GET /v1/account/tasks). */
import { useQuery } from '@tanstack/react-query';
import type { ApiClient } from '../../api/client';
import { EmptyState } from '../../components/EmptyState';
import { ErrorNotice } from '../../components/ErrorNotice';
import { formatTime } from '../keys/format';
import type { AccountTask } from './types';

export function AccountTasks({ client }: { client: ApiClient }) {
  const tasks = useQuery({
    queryKey: ['v1', 'account', 'tasks', { limit: 20 }],
    queryFn: ({ signal }) => client.get<{ data: AccountTask[] }>('/v1/account/tasks', { limit: 20 }, signal),
  });
  if (tasks.isError) return <ErrorNotice error={tasks.error} />;
  if (tasks.isPending) return <p className="muted">Loading…</p>;
  if (tasks.data.data.length === 0)
    return <EmptyState title="No tasks yet">Async requests (the playground's "Async task", or X-New-Api-Async-Task: true) show here.</EmptyState>;
  return (
    <div className="table-wrap">
      <table className="data-table" aria-label="Tasks">
        <thead>
          <tr>
            <th scope="col">Task</th>
            <th scope="col">Model</th>
            <th scope="col">State</th>
            <th scope="col" className="num">
              Images
            </th>
            <th scope="col">Submitted</th>
          </tr>
        </thead>
        <tbody>
          {tasks.data.data.map((task) => (
            <tr key={task.id}>
              <th scope="row">
                <code>{task.id}</code>
              </th>
              <td>{task.model}</td>
              <td>
                {task.state}
                {task.fail_reason ? <span className="small danger-text"> {task.fail_reason}</span> : null}
              </td>
              <td className="num">{task.image_urls.length}</td>
              <td className="small">{formatTime(task.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
