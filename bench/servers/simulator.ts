/**
 * The upstream: the OpenAI simulator answering every generation with one fixed noise PNG,
 * BENCH_IMAGE_SIDE px square (default 1024: ~2.17 MB; noise defeats deflate, ~2.07 bytes a pixel).
 */
import { startOpenAISimulator } from '../../sim/openai/simulator.js';
import { renderNoiseImage } from '../../sim/render.js';
import { announceReady, closeOnShutdown } from './child.js';
import { UPSTREAM_API_KEY } from '../lib/keys.js';

const side = Number(process.env.BENCH_IMAGE_SIDE ?? '1024');
const image = await renderNoiseImage(side, side);
const latencyMs = Number(process.env.BENCH_UPSTREAM_LATENCY_MS ?? '0');
const sim = await startOpenAISimulator({ fixedImage: image, apiKey: UPSTREAM_API_KEY, latencyMs });
closeOnShutdown(() => sim.close());
announceReady({ url: sim.origin, imageBytes: image.length });
