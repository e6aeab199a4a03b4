/** A channel's live health: its breaker (and until when requests skip it), and why it last failed. */
import type { ChannelHealth } from './types';

const CIRCUIT_TONE: Record<ChannelHealth['circuit'], string> = { closed: 'ok', open: 'bad', 'half-open': 'warn' };

function clock(iso: string): string {
  return new Date(iso).toLocaleTimeString();
}

export function ChannelHealthCell({ health }: { health: ChannelHealth }) {
  return (
    <div className="stack">
      <span>
        <span className={`pill ${CIRCUIT_TONE[health.circuit]}`}>breaker {health.circuit}</span>
        {health.unavailable_until ? (
          <span className="muted">
            {/* A closed breaker with a time: parked by the upstream's Retry-After, not by failures. */}
            {health.circuit === 'closed' ? ' parked' : ''} until {clock(health.unavailable_until)}
          </span>
        ) : null}
      </span>
      {health.consecutive_failures > 0 ? (
        <span className="muted">
          {health.consecutive_failures} failure{health.consecutive_failures === 1 ? '' : 's'} in a row
        </span>
      ) : null}
      {health.last_error ? <span className="small danger-text">{health.last_error}</span> : null}
    </div>
  );
}
