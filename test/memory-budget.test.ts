/** MemoryBudget and MemoryHold: what a request takes, when it is refused, when it gives back. */
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../src/core/errors.js';
import { MemoryBudget, MemoryHold } from '../src/core/memory-budget.js';

const MB = 1024 * 1024;

function refusal(action: () => void): GatewayError {
  try {
    action();
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('MemoryHold', () => {
  it('reserves a declared body; past the budget new work is refused with 503 server_busy and Retry-After', () => {
    const budget = new MemoryBudget(10 * MB);
    const first = new MemoryHold(budget);
    first.reserveBody(6 * MB);
    const second = new MemoryHold(budget);
    const busy = refusal(() => second.reserveBody(6 * MB));
    expect(busy).toMatchObject({ status: 503, type: 'server_error', code: 'server_busy', headers: { 'retry-after': '5' } });
    expect(budget.inUse).toBe(6 * MB);
    first.end();
    second.reserveBody(6 * MB);
    expect(budget.inUse).toBe(6 * MB);
  });

  it('a request larger than the whole budget is 413: it could never fit', () => {
    const budget = new MemoryBudget(10 * MB);
    const hold = new MemoryHold(budget);
    expect(refusal(() => hold.reserveBody(11 * MB))).toMatchObject({ status: 413, code: 'request_too_large' });
    hold.receivedBody(8 * MB);
    expect(refusal(() => hold.receivedBody(3 * MB))).toMatchObject({ status: 413, code: 'request_too_large' });
    expect(budget.inUse).toBe(8 * MB);
  });

  it('body bytes count only past what was reserved for them (a chunked body has nothing reserved)', () => {
    const budget = new MemoryBudget(10 * MB);
    const declared = new MemoryHold(budget);
    declared.reserveBody(4 * MB);
    declared.receivedBody(4 * MB);
    expect(budget.inUse).toBe(4 * MB);
    const chunked = new MemoryHold(budget);
    chunked.receivedBody(MB);
    chunked.receivedBody(MB);
    expect(budget.inUse).toBe(6 * MB);
  });

  it('accepted work is counted past the budget, and given back when the request and its pins end', () => {
    const budget = new MemoryBudget(10 * MB);
    const hold = new MemoryHold(budget);
    hold.reserveBody(8 * MB);
    hold.add(5 * MB);
    expect(budget.inUse).toBe(13 * MB);
    const unpin = hold.pin();
    hold.end();
    hold.end();
    expect(budget.inUse).toBe(13 * MB);
    unpin();
    unpin();
    expect(budget.inUse).toBe(0);
  });

  it('after it is given back, nothing more is counted for it', () => {
    const budget = new MemoryBudget(10 * MB);
    const hold = new MemoryHold(budget);
    hold.reserveBody(MB);
    hold.end();
    hold.add(MB);
    hold.receivedBody(3 * MB);
    hold.pin()();
    expect(budget.inUse).toBe(0);
  });
});
