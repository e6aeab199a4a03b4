/**
 * The gateway's logger: pino at LOG_LEVEL, one JSON object a line by default (for machines and
 * log shippers), or pino-pretty's text for people (IMAGEGATE_LOG_FORMAT=pretty). Pretty lines are
 * made in-process as each is logged (pino-pretty's formatter, not its transport: no worker thread,
 * no stream chain) and written to the same kind of stdout stream as JSON lines, flushed on exit.
 */
import { createRequire } from 'node:module';
import { destination as fileDestination, pino, type DestinationStream, type Logger } from 'pino';
import type { prettyFactory as PrettyFactory } from 'pino-pretty';
import type { LogFormat } from './config.js';

export interface LoggerSettings {
  logLevel: string;
  logFormat: LogFormat;
}

/** `destination`: where lines go (stdout unless given; tests pass one they read). */
export function createLogger(settings: LoggerSettings, destination?: DestinationStream): Logger {
  const options = { level: settings.logLevel };
  if (settings.logFormat === 'json') return destination ? pino(options, destination) : pino(options);
  const out = destination ?? fileDestination(1);
  // Loaded only for pretty logs: JSON logging, the default, does without its 10 MB.
  const { prettyFactory } = createRequire(import.meta.url)('pino-pretty') as { prettyFactory: typeof PrettyFactory };
  const pretty: (line: string) => string = prettyFactory({
    // Colours only on a terminal; a file or a pipe gets plain text.
    colorize: destination === undefined && process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
    messageFormat: requestSummary,
  });
  return pino(options, { write: (line: string) => out.write(pretty(line)) });
}

/** A request line (http/request-line.ts) reads `POST /v1/images/generations 200 1234 ms`, its fields below. */
function requestSummary(log: Record<string, unknown>, messageKey: string): string {
  const message = String(log[messageKey] ?? '');
  if (message !== 'request') return message;
  const route = typeof log.route === 'string' ? log.route : '(no route)';
  return `${String(log.method)} ${route} ${String(log.status)} ${String(log.latencyMs)} ms`;
}
