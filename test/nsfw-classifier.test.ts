/**
 * The content-safety classifier (src/safety/), with the real model: nsfwjs's MobileNetV2Mid on
 * TensorFlow.js' WASM backend, in worker threads. Images are the demo channel's and the simulator's
 * own renders (a prompt on bands of colour), which must score as ordinary pictures. The pool's
 * failure paths (a worker that dies on a job, one whose script cannot load) run a small stand-in
 * worker script, since the real one does neither on purpose. Last, a gateway in a child process: with
 * every check off it starts no classifier; a caller's `nsfw_checker: true` starts it.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderImage } from '../sim/render.js';
import { SAFETY_CLASSES, SafetyClassifierError, type SafetyScores } from '../src/core/image-safety.js';
import { drawPrompt } from '../src/providers/demo/render.js';
import { createNsfwClassifier, type NsfwClassifier } from '../src/safety/nsfw-classifier.js';
import { WorkerPool } from '../src/safety/worker-pool.js';
import { spawnGateway } from './helpers/child-gateway.js';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { forgedPng } from './helpers/forged-png.js';
import { imported, importedPackages, importWatchOptions } from './helpers/import-watch.js';

closeAfterEach();

/** A sensible bound for the unsafe classes: a policy blocking at this or above passes every ordinary picture. */
const UNSAFE_BELOW = 0.3;
const UNSAFE = ['porn', 'hentai', 'sexy'] as const;

/** A worker's start loads TensorFlow.js and the model: seconds on a busy 2-core machine. */
const MODEL_TIMEOUT = 120_000;

const images = {
  demoPng: () => drawPrompt({ width: 1024, height: 1024, format: 'png', transparent: false }, 'A red bicycle, studio light', 0),
  demoJpeg: () => drawPrompt({ width: 1536, height: 1024, format: 'jpeg', transparent: false }, 'A lighthouse at dawn', 1),
  demoClearWebp: () => drawPrompt({ width: 1024, height: 1024, format: 'webp', transparent: true }, 'a cat on a windowsill', 0),
  simulatorPng: () => renderImage({ width: 1024, height: 1024, format: 'png', text: '一只猫在窗台上', variant: 2 }),
};

const errorCode = (err: unknown) => (err instanceof SafetyClassifierError ? err.code : String(err));

function expectProbabilities(scores: SafetyScores): void {
  expect(Object.keys(scores).sort()).toEqual([...SAFETY_CLASSES]);
  for (const c of SAFETY_CLASSES) {
    expect(scores[c]).toBeGreaterThanOrEqual(0);
    expect(scores[c]).toBeLessThanOrEqual(1);
  }
  expect(SAFETY_CLASSES.reduce((sum, c) => sum + scores[c], 0)).toBeCloseTo(1, 3);
}

const topClass = (scores: SafetyScores) => [...SAFETY_CLASSES].sort((a, b) => scores[b] - scores[a])[0];

describe('the nsfwjs classifier (real model)', () => {
  // One pool for the scoring tests: its workers load the model once.
  let classifier: NsfwClassifier;
  beforeAll(() => {
    classifier = createNsfwClassifier({ workers: 2 });
  });
  afterAll(() => classifier.close());

  it.each(Object.entries(images))(
    'an ordinary generated image (%s) scores neutral or drawing highest, every unsafe class low, probabilities summing to 1',
    async (_name, draw) => {
      const scores = await classifier.classify(await draw());
      expectProbabilities(scores);
      expect(['neutral', 'drawing']).toContain(topClass(scores));
      for (const c of UNSAFE) expect(scores[c], c).toBeLessThan(UNSAFE_BELOW);
    },
    MODEL_TIMEOUT,
  );

  it(
    'concurrent calls all answer, each with its own image’s scores (as when classified alone)',
    async () => {
      const drawn = await Promise.all(Object.values(images).map((draw) => draw()));
      const alone: SafetyScores[] = [];
      for (const image of drawn) alone.push(await classifier.classify(image));
      // The images score differently, so answers handed to the wrong caller would show.
      expect(alone[0]?.neutral).not.toBeCloseTo(alone[1]?.neutral ?? 0, 3);

      const together = await Promise.all([...drawn, ...drawn, ...drawn].map((image) => classifier.classify(image)));
      together.forEach((scores, i) => {
        const expected = alone[i % drawn.length] as SafetyScores;
        for (const c of SAFETY_CLASSES) expect(scores[c]).toBeCloseTo(expected[c], 5);
      });
      expect(classifier.workers).toBe(2);
    },
    MODEL_TIMEOUT,
  );

  it(
    'bytes that are no image, a truncated PNG and one declaring 50000x50000 pixels reject with SAFETY_UNDECODABLE_IMAGE; the next image still scores',
    async () => {
      const png = await images.demoPng();
      await expect(classifier.classify(Buffer.from('this is not an image'))).rejects.toMatchObject({ code: 'SAFETY_UNDECODABLE_IMAGE' });
      await expect(classifier.classify(png.subarray(0, 200))).rejects.toMatchObject({ code: 'SAFETY_UNDECODABLE_IMAGE' });
      await expect(classifier.classify(Buffer.alloc(0))).rejects.toMatchObject({ code: 'SAFETY_UNDECODABLE_IMAGE' });
      // Refused by its header (more pixels than the gateway decodes), never allocated.
      await expect(classifier.classify(forgedPng(50_000, 50_000))).rejects.toMatchObject({
        code: 'SAFETY_UNDECODABLE_IMAGE',
        message: expect.stringMatching(/pixel limit/i),
      });
      expectProbabilities(await classifier.classify(png));
    },
    MODEL_TIMEOUT,
  );

  it(
    'a greyscale image, a tiny one and an SVG (a vector model’s answer) are scored too (made RGB, stretched to the input)',
    async () => {
      const grey = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#777777' } })
        .greyscale()
        .png()
        .toBuffer();
      const tiny = await sharp({ create: { width: 3, height: 2, channels: 4, background: { r: 10, g: 200, b: 30, alpha: 0.5 } } })
        .png()
        .toBuffer();
      expectProbabilities(await classifier.classify(grey));
      expectProbabilities(await classifier.classify(tiny));
      const svg = Buffer.from(
        '<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480"><rect width="640" height="480" fill="#2a6f97"/><circle cx="320" cy="240" r="120" fill="#f4d35e"/></svg>',
      );
      const vector = await classifier.classify(svg);
      expectProbabilities(vector);
      for (const c of UNSAFE) expect(vector[c], c).toBeLessThan(UNSAFE_BELOW);
    },
    MODEL_TIMEOUT,
  );
});

describe('the classifier’s pool', () => {
  it(
    'starts lazily: no worker until the first classify, one after it, none after close(); then it refuses (SAFETY_CLOSED)',
    async () => {
      const classifier = later(createNsfwClassifier({ workers: 2 }));
      expect(classifier.workers).toBe(0);
      expectProbabilities(await classifier.classify(await images.demoPng()));
      expect(classifier.workers).toBe(1);
      await classifier.close();
      expect(classifier.workers).toBe(0);
      await expect(classifier.classify(await images.demoPng())).rejects.toMatchObject({ code: 'SAFETY_CLOSED' });
    },
    MODEL_TIMEOUT,
  );

  it(
    'past every worker busy and the queue full, a call is refused at once with SAFETY_QUEUE_FULL; the admitted ones answer',
    async () => {
      const classifier = later(createNsfwClassifier({ workers: 1, queueLimit: 1 }));
      const png = await images.demoPng();
      const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => classifier.classify(png)));
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(2);
      const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason] : []));
      expect(refused.map(errorCode)).toEqual(Array(4).fill('SAFETY_QUEUE_FULL'));
      expect(String(refused[0])).toMatch(/busy/);
      // Drained: the next call is admitted.
      expectProbabilities(await classifier.classify(png));
    },
    MODEL_TIMEOUT,
  );

  it(
    'an aborted call rejects with its signal’s reason, queued or not yet sent; the others answer',
    async () => {
      const classifier = later(createNsfwClassifier({ workers: 1 }));
      const png = await images.demoPng();
      await expect(classifier.classify(png, AbortSignal.abort())).rejects.toMatchObject({ name: 'AbortError' });
      const first = classifier.classify(png);
      const waiting = new AbortController();
      const second = classifier.classify(png, waiting.signal);
      const third = classifier.classify(png);
      waiting.abort();
      await expect(second).rejects.toMatchObject({ name: 'AbortError' });
      expectProbabilities(await first);
      expectProbabilities(await third);
    },
    MODEL_TIMEOUT,
  );

  it(
    'close() fails the calls in flight (SAFETY_CLOSED) and ends every worker: a process that closed it exits by itself',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'imagegate-nsfw-close-'));
      onCleanup(() => rm(dir, { recursive: true, force: true }));
      const script = join(dir, 'close.mjs');
      const image = join(dir, 'image.png');
      await writeFile(image, await images.demoPng());
      const classifierModule = pathToFileURL(join(import.meta.dirname, '..', 'src', 'safety', 'nsfw-classifier.ts')).href;
      await writeFile(
        script,
        [
          `const { createNsfwClassifier } = await import(${JSON.stringify(classifierModule)});`,
          "const { readFileSync } = await import('node:fs');",
          `const png = readFileSync(${JSON.stringify(image)});`,
          'const classifier = createNsfwClassifier({ workers: 2 });',
          'const [a, b] = await Promise.all([classifier.classify(png), classifier.classify(png)]);',
          'const inFlight = classifier.classify(png).then(() => "answered", (err) => err.code);',
          'await classifier.close();',
          'console.log(JSON.stringify({ workers: classifier.workers, scored: [a, b].map((s) => Object.keys(s).length), inFlight: await inFlight }));',
          // No process.exit: the process ends only if close() left nothing running.
        ].join('\n'),
      );
      const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: join(import.meta.dirname, '..'), stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        out += c.toString();
      });
      const exit = await new Promise<number | string>((resolve) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve('still running 90 s after close()');
        }, 90_000);
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve(code ?? 'killed');
        });
      });
      expect(exit, out).toBe(0);
      expect(JSON.parse(out.trim().split('\n').at(-1) ?? '{}')).toEqual({ workers: 0, scored: [5, 5], inFlight: 'SAFETY_CLOSED' });
    },
    MODEL_TIMEOUT,
  );
});

describe('the worker pool’s failures (a stand-in worker script)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'imagegate-worker-pool-'));
    // Upper-cases its input (after 300 ms when it starts with "slow"); dies (exit code 3) on "crash".
    await writeFile(
      join(dir, 'echo.mjs'),
      [
        "import { parentPort } from 'node:worker_threads';",
        "parentPort.postMessage({ kind: 'ready', loadMs: 0 });",
        'parentPort.on("message", ({ id, input }) => {',
        "  if (input === 'crash') process.exit(3);",
        "  if (input === 'fail') parentPort.postMessage({ kind: 'failed', id, message: 'could not score it' });",
        "  else setTimeout(() => parentPort.postMessage({ kind: 'done', id, value: input.toUpperCase() }), input.startsWith('slow') ? 300 : 0);",
        '});',
      ].join('\n'),
    );
    await writeFile(join(dir, 'unloadable.mjs'), loadCounted('unloadable', "throw new Error('the model is not there');"));
    // Its odd starts fail, its even ones work.
    await writeFile(join(dir, 'odd-fail.mjs'), loadCounted('odd-fail', "if (loads % 2 === 1) throw new Error('out of memory, once');", echo));
    // Its second start fails, every other works.
    await writeFile(join(dir, 'second-fails.mjs'), loadCounted('second-fails', "if (loads === 2) throw new Error('out of memory, once');", echo));
  });
  /** A worker script that counts its starts in a file beside it (`loads`, from 1), then runs `body`. */
  const loadCounted = (name: string, ...body: string[]) =>
    [
      "import { appendFileSync, readFileSync } from 'node:fs';",
      "import { parentPort } from 'node:worker_threads';",
      `const counter = new URL('./${name}.loads', import.meta.url);`,
      "appendFileSync(counter, 'x');",
      "const loads = readFileSync(counter, 'utf8').length;",
      ...body,
    ].join('\n');
  const loadsOf = async (name: string) => (await readFile(join(dir, `${name}.loads`), 'utf8').catch(() => '')).length;
  const echo = [
    "parentPort.postMessage({ kind: 'ready', loadMs: 0 });",
    "parentPort.on('message', ({ id, input }) => {",
    "  if (input === 'crash') process.exit(3);",
    "  setTimeout(() => parentPort.postMessage({ kind: 'done', id, value: input.toUpperCase() }), input.startsWith('slow') ? 300 : 0);",
    '});',
  ].join('\n');
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const pool = (script: string, size = 1, restartDelayMs = { first: 60_000, max: 60_000 }) =>
    later(new WorkerPool<string, string>({ script: pathToFileURL(join(dir, script)), size, queueLimit: 8, name: 'test pool', restartDelayMs }));

  it('a worker that dies fails the job it held (SAFETY_WORKER_FAILED); a replacement serves the jobs queued behind it and the next ones', async () => {
    const echo = pool('echo.mjs');
    expect(await echo.run('a', [])).toBe('A');
    const crashed = echo.run('crash', []);
    const queued = echo.run('b', []);
    await expect(crashed).rejects.toMatchObject({ code: 'SAFETY_WORKER_FAILED', message: expect.stringMatching(/died.*exited with code 3/) });
    expect(await queued).toBe('B');
    expect(await echo.run('c', [])).toBe('C');
    expect(echo.workers).toBe(1);
  });

  it('a job the worker could not do rejects (SAFETY_WORKER_FAILED) and the worker goes on', async () => {
    const echo = pool('echo.mjs');
    await expect(echo.run('fail', [])).rejects.toMatchObject({ code: 'SAFETY_WORKER_FAILED', message: expect.stringMatching(/could not score it/) });
    expect(await echo.run('d', [])).toBe('D');
  });

  it('an aborted job rejects with the signal’s reason, queued or running; a running one’s late answer goes to no one else', async () => {
    const echo = pool('echo.mjs');
    const running = new AbortController();
    const queued = new AbortController();
    const slow = echo.run('slow one', [], running.signal);
    const waiting = echo.run('never sent', [], queued.signal);
    const after = echo.run('slow two', []);
    queued.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    running.abort();
    await expect(slow).rejects.toMatchObject({ name: 'AbortError' });
    expect(await after).toBe('SLOW TWO');
    expect(await echo.run('e', [])).toBe('E');
  });

  it('a worker whose script cannot load fails its job and every queued one at once (SAFETY_UNAVAILABLE); none is started again until the delay has passed, then the delay doubles', async () => {
    const broken = pool('unloadable.mjs', 1, { first: 2_000, max: 3_000 });
    const outcomes = await Promise.allSettled([broken.run('x', []), broken.run('y', []), broken.run('z', [])]);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect(outcome.status === 'rejected' && outcome.reason).toMatchObject({
        code: 'SAFETY_UNAVAILABLE',
        message: expect.stringMatching(/failed to start \(.*the model is not there.*\); the next is tried in 2 s/),
        retryAfterMs: expect.any(Number),
      });
    }
    expect(await loadsOf('unloadable')).toBe(1);
    // Within the delay: refused at once, no worker started.
    const refused = await broken.run('again', []).catch((err: unknown) => err);
    expect(refused).toMatchObject({ code: 'SAFETY_UNAVAILABLE' });
    expect((refused as SafetyClassifierError).retryAfterMs).toBeGreaterThan(0);
    expect((refused as SafetyClassifierError).retryAfterMs).toBeLessThanOrEqual(2_000);
    expect([broken.workers, await loadsOf('unloadable')]).toEqual([0, 1]);
    // Past it: one more start, which fails too; the next delay is twice the first, within the max.
    await sleep(2_100);
    const again = await broken.run('later', []).catch((err: unknown) => err);
    expect(again).toMatchObject({ code: 'SAFETY_UNAVAILABLE' });
    expect((again as SafetyClassifierError).retryAfterMs).toBeGreaterThan(2_000);
    expect((again as SafetyClassifierError).retryAfterMs).toBeLessThanOrEqual(3_000); // 4 s doubled, capped at the max
    expect(await loadsOf('unloadable')).toBe(2);
  });

  it('a start that failed once: once the delay has passed a new worker serves the jobs, and a later failed start waits the first delay again', async () => {
    const flaky = pool('odd-fail.mjs', 1, { first: 1_000, max: 10_000 });
    await expect(flaky.run('a', [])).rejects.toMatchObject({ code: 'SAFETY_UNAVAILABLE', message: expect.stringMatching(/out of memory, once/) });
    await sleep(1_100);
    expect(await flaky.run('b', [])).toBe('B');
    expect([flaky.workers, await loadsOf('odd-fail')]).toEqual([1, 2]);
    // The worker that started dies; its replacement fails to start: the delay is the first again (the worker in between started).
    await expect(flaky.run('crash', [])).rejects.toMatchObject({ code: 'SAFETY_WORKER_FAILED' });
    const refused = await flaky.run('c', []).catch((err: unknown) => err);
    expect(refused).toMatchObject({ code: 'SAFETY_UNAVAILABLE' });
    expect((refused as SafetyClassifierError).retryAfterMs).toBeLessThanOrEqual(1_000);
    expect(await loadsOf('odd-fail')).toBe(3);
  });

  it('while a started worker is there, a failed start of another does not refuse jobs: they wait for the worker that works', async () => {
    const half = pool('second-fails.mjs', 2);
    expect(await half.run('a', [])).toBe('A');
    const slow = half.run('slow b', []);
    // The first worker is busy: a second is started for this job, and fails.
    await expect(half.run('c', [])).rejects.toMatchObject({ code: 'SAFETY_UNAVAILABLE' });
    // Within the delay, with the first worker still busy: queued for it, not refused.
    const queued = half.run('d', []);
    expect(await slow).toBe('SLOW B');
    expect(await queued).toBe('D');
    expect([half.workers, await loadsOf('second-fails')]).toEqual([1, 2]);
  });
});

describe('in a gateway (a child process, watched)', () => {
  it(
    'with every check off a generation starts no classifier worker and imports no TensorFlow.js; the first nsfw_checker: true starts one, and the demo image passes',
    async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'imagegate-nsfw-gateway-'));
      onCleanup(() => rm(dataDir, { recursive: true, force: true }));
      const key = 'sk-nsfw-classifier';
      const gateway = await spawnGateway({
        IMAGEGATE_DATA_DIR: dataDir,
        IMAGEGATE_API_KEYS: key,
        IMAGEGATE_DEMO_DELAY: '0',
        NODE_OPTIONS: await importWatchOptions(),
      });
      onCleanup(() => gateway.stop());
      const generate = (extra: Record<string, unknown>) =>
        fetch(`${gateway.origin}/v1/images/generations`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-image-1', prompt: 'A lighthouse at dawn', size: '1024x1024', ...extra }),
        });
      const workerReady = /safety classifier: a worker is ready/;
      const tensorflow = (output: string) => importedPackages(output).filter((p) => imported([p], '@tensorflow/tfjs') || imported([p], 'nsfwjs'));

      const unchecked = await generate({});
      expect(unchecked.status, await unchecked.text()).toBe(200);
      expect(tensorflow(gateway.output())).toEqual([]);
      expect(gateway.output()).not.toMatch(workerReady);

      const checked = await generate({ nsfw_checker: true });
      expect(checked.status, await checked.text()).toBe(200);
      await expect.poll(() => gateway.output(), { timeout: 20_000 }).toMatch(workerReady);
      // Loaded in the worker's thread, which the watch does not see; the gateway's own thread imported neither.
      expect(tensorflow(gateway.output())).toEqual([]);
    },
    MODEL_TIMEOUT,
  );
});
