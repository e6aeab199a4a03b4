/**
 * Midjourney, through midjourney-proxy servers (channel kind `midjourney`, providers/midjourney/).
 * Midjourney has no API of its own: relays run a proxy (novicezk's midjourney-proxy, trueai-org's
 * fork) that drives a Discord account, and name the models after the version flag the prompt
 * carries. Each model here is one version flag, appended to the prompt (providers/midjourney/
 * prompt.ts; `midjourney` appends none: the version the proxy's account is set to).
 *
 * One imagine is a 2x2 grid of four images: n is 1-4 per request, the first n of the four. Sizes
 * are Midjourney's own output per aspect ratio (v5 to v7, the same at every version), sent as
 * `--ar`; no other WxH. Quality chooses how the four images are made:
 * - `standard` (the default; `auto` too): the grid is split in four by the gateway, one upstream job;
 * - `hd`: each image is Midjourney's own upscale of it (the U1-U4 buttons), one more upstream job
 *   per image: Midjourney's separate full-quality file (from v5 on the same pixel size as a
 *   quarter of the grid, not a larger one).
 * Edits are image prompts: the input images go with the imagine (`base64Array`), no mask.
 * Midjourney answers PNG (some proxies WebP): the gateway converts to the format asked. A stream
 * waits for the grid (and upscales) and gets each image as a completed event.
 *
 * Prices: Midjourney sells subscriptions, not a per-image API price. Relays charge per job; the
 * defaults here are new-api's built-in per-call prices (its model price list, `mj_imagine` $0.10,
 * `mj_upscale` $0.05, read 2026-11-30), per image: standard $0.10 / 4 = $0.025, hd $0.025 plus
 * one upscale, $0.075. An imagine costs the same whatever n: a request for fewer than four
 * images leaves the rest of the grid unused and unbilled. Set `pricing:` in the config for your
 * proxy's real cost.
 */
import type { ModelCapabilities } from '../models.js';
import { type VendorCatalogue, VENDOR_MODEL_DEFAULTS, WHOLE_IMAGE_STREAMING } from './vendor-catalogue.js';

const MB = 1024 * 1024;

/** Midjourney's image size per `--ar` ratio (one image; the grid is twice as wide and high). */
export const MIDJOURNEY_SIZES = {
  '1:1': '1024x1024',
  '4:3': '1232x928',
  '3:4': '928x1232',
  '3:2': '1344x896',
  '2:3': '896x1344',
  '16:9': '1456x816',
  '9:16': '816x1456',
} as const;

const MIDJOURNEY: ModelCapabilities = {
  ...VENDOR_MODEL_DEFAULTS,
  sizes: Object.values(MIDJOURNEY_SIZES),
  customSizes: false,
  defaultSize: MIDJOURNEY_SIZES['1:1'],
  // No aspect-ratio table: the task API's ratios take the nearest of its sizes (5:4 its 4:3, 21:9 its 16:9).
  qualities: ['standard', 'hd', 'auto'],
  autoQualityIsDefault: true,
  // Discord's limit for a slash command's text, which the proxy types for the account.
  maxPromptChars: 6_000,
  maxN: 4,
  outputFormats: ['png', 'jpeg', 'webp'],
  defaultOutputFormat: 'png',
  outputCompression: true,
  streaming: WHOLE_IMAGE_STREAMING,
  // Image prompts: the proxy uploads each to Discord before the imagine.
  edits: {
    maxImages: 5,
    maxBytesEach: 10 * MB,
    formats: ['png', 'jpeg', 'webp'],
    square: false,
    alphaWithoutMask: false,
    maxSide: 8192,
    maxPixels: 8192 * 8192,
  },
};

export const MIDJOURNEY_CATALOGUE = {
  vendor: 'midjourney',
  rules: { midjourney: MIDJOURNEY },
  models: [
    { id: 'midjourney', family: 'midjourney', description: "Midjourney (midjourney-proxy), the version the proxy's account is set to" },
    { id: 'midjourney-v7', family: 'midjourney', description: 'Midjourney V7 (midjourney-proxy, --v 7)' },
    { id: 'midjourney-v6.1', family: 'midjourney', description: 'Midjourney V6.1 (midjourney-proxy, --v 6.1)' },
    { id: 'niji-6', family: 'midjourney', description: 'Niji 6, the anime model (midjourney-proxy, --niji 6)' },
  ],
} as const satisfies VendorCatalogue<'midjourney'>;

/** Per image and quality, in US dollars (see the header: new-api's per-call prices, shared by four images). */
export const MIDJOURNEY_PRICES_USD: Readonly<Record<string, Readonly<Record<'standard' | 'hd', number>>>> = Object.fromEntries(
  MIDJOURNEY_CATALOGUE.models.map((m) => [m.id, { standard: 0.025, hd: 0.075 }]),
);
