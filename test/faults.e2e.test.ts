// The fault suite in CI, at a size that fits the suite's time: three instances on a PostgreSQL
// cluster and a Redis server of their own; each scenario injects one fault while tasks run and
// must end with no lost, failed, duplicated or mischarged task, every webhook delivered once and
// no crashed instance. `npm run test:faults` runs the same scenarios bigger, with a report.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgClusterAvailable } from './helpers/pg-cluster.js';
import { redisServerAvailable } from './helpers/redis-server.js';
import { formatReports, runScenario, SCENARIOS, violations, type ScenarioReport } from './faults/scenarios.js';
import { createFaultWorld, type FaultWorld } from './faults/world.js';

const runnable = (await pgClusterAvailable()) && redisServerAvailable();
const TASKS = 16;

describe.skipIf(!runnable)('fault suite', () => {
  let world: FaultWorld;
  const reports: ScenarioReport[] = [];
  beforeAll(async () => {
    world = await createFaultWorld();
  }, 240_000); // a database cluster made with initdb and three gateways started at once: minutes on a busy machine
  afterAll(async () => {
    if (reports.length > 0) console.log(`\n${formatReports(reports)}\n`);
    await world?.close();
  }, 60_000);

  for (const scenario of SCENARIOS) {
    it(scenario.name, async () => {
      const report = await runScenario(world, scenario, TASKS, 90_000);
      reports.push(report);
      expect(violations(report)).toEqual([]);
    }, 180_000);
  }
});
