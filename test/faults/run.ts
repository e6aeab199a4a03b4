/**
 * `npm run test:faults`: the fault suite at full size, with a report. FAULT_TASKS sets the tasks
 * per scenario (default 60); the exit code is 1 when any scenario lost, duplicated, failed or
 * mischarged anything, or an instance crashed.
 */
import { createFaultWorld } from './world.js';
import { formatReports, runScenario, SCENARIOS, violations, type ScenarioReport } from './scenarios.js';

const tasks = Number(process.env.FAULT_TASKS ?? 60);
const world = await createFaultWorld();
const reports: ScenarioReport[] = [];
try {
  for (const scenario of SCENARIOS) {
    process.stdout.write(`running: ${scenario.name} (${tasks} tasks)\n`);
    reports.push(await runScenario(world, scenario, tasks, 120_000));
  }
} finally {
  await world.close();
}
process.stdout.write(`\n${formatReports(reports)}\n\n`);
let failed = false;
for (const report of reports) {
  const problems = violations(report);
  if (problems.length > 0) {
    failed = true;
    process.stdout.write(`FAIL ${report.name}: ${problems.join('; ')}\n`);
  }
}
process.stdout.write(failed ? 'fault suite: FAILED\n' : 'fault suite: every scenario held\n');
process.exit(failed ? 1 : 0);
