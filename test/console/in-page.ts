/**
 * Code the tests run inside the page, as expressions in text: the test files are type-checked as Node code (no
 * DOM types), the page has the DOM.
 */

/** Whether the results show `count` or more final images, every one decoded with a natural size. */
export function finalImagesDecoded(count: number): string {
  return `(() => {
    const imgs = [...document.querySelectorAll('.result-grid img[data-partial="false"]')];
    return imgs.length >= ${count} && imgs.every((img) => img.complete && img.naturalWidth > 0);
  })()`;
}

/** The final result images' natural sizes. */
export const FINAL_IMAGE_SIZES = `[...document.querySelectorAll('.result-grid img[data-partial="false"]')]
  .map((img) => ({ width: img.naturalWidth, height: img.naturalHeight }))`;

/** [localStorage entries, sessionStorage entries]. */
export const STORAGE_COUNTS = '[window.localStorage.length, window.sessionStorage.length]';

/** Starts recording each state ("true": partial, "false": final) the first result image shows, in order. */
export const RECORD_RESULT_STATES = `(() => {
  const seen = [];
  window.seenStates = seen;
  new MutationObserver(() => {
    const state = document.querySelector('.result-grid img')?.getAttribute('data-partial');
    if (state && seen.at(-1) !== state) seen.push(state);
  }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-partial', 'src'] });
})()`;

/** The states recorded since RECORD_RESULT_STATES. */
export const RECORDED_RESULT_STATES = 'window.seenStates';

/** A DataTransfer holding one 64x64 PNG named dropped.png, as a file dragged in from the desktop carries. */
export const DRAGGED_PNG = `(async () => {
  const canvas = document.createElement('canvas');
  canvas.width = 64;
  canvas.height = 64;
  canvas.getContext('2d').fillRect(0, 0, 64, 64);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
  const transfer = new DataTransfer();
  transfer.items.add(new File([blob], 'dropped.png', { type: 'image/png' }));
  return transfer;
})()`;
