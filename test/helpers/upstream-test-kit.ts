// Helpers the upstream tests (simulators, providers) share.
import { UpstreamFailure } from '../../src/core/upstream-failure.js';

/** What the promise rejected with; fails the test when it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

/** The UpstreamFailure the promise rejected with; any other outcome fails the test. */
export async function upstreamFailureOf(promise: Promise<unknown>): Promise<UpstreamFailure> {
  const err = await rejectionOf(promise);
  if (err instanceof UpstreamFailure) return err;
  throw err;
}
