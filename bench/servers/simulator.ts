/** The upstream: the OpenAI simulator answering every generation with one fixed ~2 MB noise PNG. */
import { startOpenAISimulator } from '../../src/simulator/openai.js';
import { renderNoiseImage } from '../../src/simulator/render.js';
import { announceReady, closeOnShutdown } from './child.js';
import { UPSTREAM_API_KEY } from '../lib/keys.js';

const image = await renderNoiseImage(1024, 1024);
const latencyMs = Number(process.env.BENCH_UPSTREAM_LATENCY_MS ?? '0');
const sim = await startOpenAISimulator({ fixedImage: image, apiKey: UPSTREAM_API_KEY, latencyMs });
closeOnShutdown(() => sim.close());
announceReady({ url: sim.origin, imageBytes: image.length });
