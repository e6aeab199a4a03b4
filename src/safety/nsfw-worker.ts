/**
 * The content-safety worker (a worker_thread of nsfw-classifier.ts's pool; never imported by the
 * gateway's own thread): loads TensorFlow.js on its WASM backend and nsfwjs's MobileNetV2Mid model
 * once, then scores each 224x224 RGB image it is sent.
 *
 * Chosen by measurement on a 2-core machine (bench/README.md, Content safety): the WASM backend (SIMD,
 * one thread per worker) runs the model on an image in ~55-90 ms where tfjs' pure-JavaScript cpu backend takes
 * 1-3.6 s; @tensorflow/tfjs-node would be faster still but downloads libtensorflow when installed,
 * which an offline install cannot. MobileNetV2Mid over the default MobileNetV2: nsfwjs gives it ~93%
 * accuracy to ~90% at the same input size and about the same speed here; InceptionV3 took ~600 ms.
 * The models ship inside the nsfwjs package (weights as JavaScript modules): nothing is fetched.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { load, type PredictionType } from 'nsfwjs';
import { SAFETY_CLASSES, type SafetyClass, type SafetyScores } from '../core/image-safety.js';
import { NSFW_INPUT_SIZE, type NsfwInput } from './nsfw-input.js';
import type { FromWorker, ToWorker } from './worker-protocol.js';

/** nsfwjs's class names, ours. */
const CLASS_OF: Readonly<Record<PredictionType['className'], SafetyClass>> = {
  Drawing: 'drawing',
  Hentai: 'hentai',
  Neutral: 'neutral',
  Porn: 'porn',
  Sexy: 'sexy',
};

const port = parentPort;
if (!port) throw new Error('nsfw-worker.ts runs as a worker_thread of the safety classifier, not on its own');

// From here: its packages are imported (static imports run first); what remains is the backend and the model.
const started = performance.now();
// The .wasm binaries ship in the backend's package: read from its dist/ folder, never fetched.
const wasmPackage = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json');
setWasmPaths(`${join(dirname(wasmPackage), 'dist')}/`);
if (!(await tf.setBackend('wasm'))) throw new Error('the TensorFlow.js WASM backend did not start');
// By name: nsfwjs imports that model's files (its weights as JavaScript modules) and none of the other two.
const model = await load('MobileNetV2Mid', { size: NSFW_INPUT_SIZE });
post({ kind: 'ready', loadMs: Math.round(performance.now() - started) });

port.on('message', (message: ToWorker<NsfwInput>) => {
  score(message.input).then(
    (value) => post({ kind: 'done', id: message.id, value }),
    (err: unknown) => post({ kind: 'failed', id: message.id, message: err instanceof Error ? err.message : String(err) }),
  );
});

async function score({ pixels }: NsfwInput): Promise<SafetyScores> {
  const expected = NSFW_INPUT_SIZE * NSFW_INPUT_SIZE * 3;
  if (pixels.length !== expected) throw new Error(`expected ${expected} bytes of RGB pixels, got ${pixels.length}`);
  const image = tf.tensor3d(pixels, [NSFW_INPUT_SIZE, NSFW_INPUT_SIZE, 3], 'int32');
  try {
    const predictions = await model.classify(image, SAFETY_CLASSES.length);
    const scores: Record<SafetyClass, number> = { drawing: 0, hentai: 0, neutral: 0, porn: 0, sexy: 0 };
    for (const { className, probability } of predictions) scores[CLASS_OF[className]] = probability;
    return scores;
  } finally {
    image.dispose();
  }
}

function post(message: FromWorker<SafetyScores>): void {
  port?.postMessage(message);
}
