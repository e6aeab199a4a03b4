/**
 * The usage page in a real browser against the demo channel: after requests through the API, the charts draw
 * (SVG with bars and lines), the table's figures are the report's, grouping by model and by day stacked by
 * model follows, and "Export CSV" saves a file with a header row (fetched with the admin key).
 */
import { readFile } from 'node:fs/promises';
import { expect, it, vi } from 'vitest';
import { adminJson, TEST_ADMIN_KEY } from '../helpers/admin.js';
import { describeInBrowser, screenshot, signIn, useConsoleWorld, WAIT_MS } from './browser.js';
import { atNarrowWidth, chooseTheme, guardPage } from './page-guard.js';

interface Figures {
  requests: number;
  succeeded: number;
  images: number;
  price: number;
  model?: string;
  day?: string;
}

describeInBrowser('console usage', () => {
  vi.setConfig({ testTimeout: 120_000 });
  const world = useConsoleWorld();
  guardPage(world);

  /** The table's body as text cells, row by row. */
  async function tableRows(): Promise<string[][]> {
    const { page } = world();
    const rows = page.getByRole('table', { name: 'Usage by group' }).locator('tbody tr');
    const out: string[][] = [];
    for (const row of await rows.all()) out.push((await row.locator('th, td').allTextContents()).map((cell) => cell.trim()));
    return out;
  }

  async function report(groupBy: string): Promise<Figures[]> {
    const { gw } = world();
    const answer = (await adminJson(gw.origin, 'GET', `/admin/api/usage/report?group_by=${groupBy}`)) as { groups: Figures[] };
    return answer.groups;
  }

  it('charts and tables what the report says, grouped by day, by model and by day stacked by model', async () => {
    const { gw, page, url } = world();
    await gw.client.images.generate({ model: 'dall-e-2', prompt: 'two small boats', size: '256x256', n: 2 });
    await gw.client.images.generate({ model: 'dall-e-2', prompt: 'one small boat', size: '256x256' });
    await gw.client.images.generate({ model: 'gpt-image-1', prompt: 'a harbour', size: '1024x1024', quality: 'low' });

    await signIn(page, url, TEST_ADMIN_KEY);
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Usage' }).click();
    await page.getByRole('heading', { level: 1, name: 'Usage' }).waitFor();

    // By day (the default): one row, today, with the report's figures.
    const byDay = await report('day');
    expect(byDay).toHaveLength(1);
    const [today] = byDay;
    if (!today) throw new Error('no day group');
    expect([today.requests, today.images]).toEqual([3, 4]);
    await page.getByRole('table', { name: 'Usage by group' }).waitFor();
    const dayRows = await tableRows();
    expect(dayRows).toHaveLength(1);
    expect(dayRows[0]?.slice(0, 2)).toEqual([today.day, String(today.requests)]);
    expect(dayRows[0]?.[5]).toBe(String(today.images));
    expect(dayRows[0]?.[6]).toBe(`$${today.price.toFixed(4)}`);

    // Every chart drew into its SVG: bars for requests/images, price/cost and errors, lines for the latencies.
    const charts = page.getByRole('figure');
    await expect.poll(() => charts.count(), { timeout: WAIT_MS }).toBe(4);
    const requestsChart = page.getByRole('figure', { name: 'Requests and images by day' });
    await expect.poll(() => requestsChart.locator('svg.recharts-surface .recharts-bar-rectangle').count(), { timeout: WAIT_MS }).toBe(2);
    const latency = page.getByRole('figure', { name: 'Latency by day (ms)' });
    await expect.poll(() => latency.locator('svg.recharts-surface .recharts-line').count(), { timeout: WAIT_MS }).toBe(3);
    const priceChart = page.getByRole('figure', { name: /Price, cost and margin/ });
    await expect.poll(() => priceChart.locator('svg.recharts-surface .recharts-bar-rectangle').count(), { timeout: WAIT_MS }).toBeGreaterThan(0);
    await screenshot(page, 'usage');

    // By model: one row per model, the report's figures.
    await page.getByLabel('Group by').selectOption('model');
    await expect.poll(async () => (await tableRows()).map((row) => row[0]), { timeout: WAIT_MS }).toEqual(['dall-e-2', 'gpt-image-1']);
    const byModel = await report('model');
    expect((await tableRows()).map((row) => [row[0], row[1], row[5], row[6]])).toEqual(
      byModel.map((g) => [g.model, String(g.requests), String(g.images), `$${g.price.toFixed(4)}`]),
    );
    await page.getByRole('figure', { name: 'Requests and images by model' }).waitFor();

    // By key (named as the key is) and by channel (the demo channel served all).
    await page.getByLabel('Group by').selectOption('key');
    await expect.poll(async () => (await tableRows()).map((row) => row.slice(0, 2)), { timeout: WAIT_MS }).toEqual([['test', '3']]);
    await page.getByLabel('Group by').selectOption('channel');
    await expect.poll(async () => (await tableRows()).map((row) => row.slice(0, 2)), { timeout: WAIT_MS }).toEqual([['demo', '3']]);

    // By day, stacked by model: a bar segment per model in the requests chart, both models in its legend.
    await page.getByLabel('Group by').selectOption('day,model');
    const stacked = page.getByRole('figure', { name: 'Requests by day, stacked by model' });
    await expect.poll(() => stacked.locator('.recharts-bar-rectangle').count(), { timeout: WAIT_MS }).toBe(2);
    expect(await stacked.locator('.recharts-legend-item-text').allTextContents()).toEqual(['dall-e-2', 'gpt-image-1']);
    expect(await tableRows()).toHaveLength(2);
    await screenshot(page, 'usage-stacked');
  });

  it('exports the report as CSV with a header row', async () => {
    const { page } = world();
    await page.getByLabel('Group by').selectOption('model');
    const download = page.waitForEvent('download', { timeout: WAIT_MS });
    await page.getByRole('button', { name: 'Export CSV' }).click();
    const file = await (await download).path();
    const lines = (await readFile(file, 'utf8')).trim().split(/\r?\n/);
    expect(lines[0]).toMatch(/^model,requests,succeeded,errors,error_rate,images,price,cost,margin,latency_p50_ms/);
    expect(lines).toHaveLength(3);
    expect(lines.slice(1).map((line) => line.split(',')[0])).toEqual(['dall-e-2', 'gpt-image-1']);
  });

  it('a custom range with no requests says so; reads in dark mode and at a phone width', async () => {
    const { page } = world();
    await page.getByRole('button', { name: '30 d' }).click();
    await page.getByLabel('Group by').selectOption('day');
    await page.getByRole('figure', { name: 'Requests and images by day' }).waitFor();
    await chooseTheme(page, 'dark');
    await screenshot(page, 'usage-dark');
    await atNarrowWidth(page, async () => {
      await screenshot(page, 'usage-narrow');
    });
    await chooseTheme(page, 'system');
    await page.getByRole('button', { name: 'Custom' }).click();
    await page.getByLabel('From').fill('2020-01-01');
    await page.getByLabel('To').fill('2020-01-31');
    await page.getByRole('heading', { name: 'No requests in this range' }).waitFor();
  });
});
