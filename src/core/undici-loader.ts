/**
 * undici, loaded with the first upstream call or outbound fetch rather than at start: its module
 * graph takes ~90 ms to evaluate, and a gateway that is only starting (or answering health probes)
 * never needs it. Agents are made on first use (lazyAgent) for the same reason.
 */
import type { Agent } from 'undici';

let loading: Promise<typeof Agent> | undefined;

function loadAgentClass(): Promise<typeof Agent> {
  loading ??= import('undici').then((undici) => undici.Agent);
  return loading;
}

/** An Agent made with the first request that needs it; close() closes it only if it was made. */
export class LazyAgent {
  private made: Promise<Agent> | undefined;

  constructor(private readonly options: ConstructorParameters<typeof Agent>[0]) {}

  get(): Promise<Agent> {
    this.made ??= loadAgentClass().then((AgentClass) => new AgentClass(this.options));
    return this.made;
  }

  async close(): Promise<void> {
    const made = this.made;
    this.made = undefined;
    if (made) await (await made).close();
  }
}
