/**
 * The report as CSV, saved as a file. A plain link cannot send the admin key, so the page fetches the CSV
 * with it and hands the browser a Blob URL to save.
 */
import type { ApiClient, QueryValue } from '../../api/client';
import { apiPath } from '../../api/client';

export async function downloadUsageCsv(api: ApiClient, query: Record<string, QueryValue>, fileName: string): Promise<void> {
  const res = await api.send(apiPath('/admin/api/usage/report', { ...query, format: 'csv' }));
  const url = URL.createObjectURL(await res.blob());
  try {
    const link = document.createElement('a');
    link.href = url;
    link.download = fileName;
    document.body.append(link);
    link.click();
    link.remove();
  } finally {
    // The download has started from the URL; the revocation waits a tick so the browser has read it.
    window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}
