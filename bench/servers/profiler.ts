/**
 * An in-process CPU profile of a bench server. Taken through node:inspector rather than
 * --cpu-prof so its positions can be mapped through tsx's source maps back to the .ts lines.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { findSourceMap } from 'node:module';
import { join } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  callFrame: CallFrame;
}

interface Profile {
  nodes: ProfileNode[];
}

/** Starts profiling; the returned function stops it and writes `<dir>/<name>-<time>.cpuprofile`. */
export async function startProfiler(dir: string, name: string): Promise<() => Promise<string>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    const mapped = toSource(profile as unknown as Profile);
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
    await writeFile(file, JSON.stringify(mapped));
    return file;
  };
}

/** Rewrites each frame of a tsx-compiled file to its TypeScript source position (0-based). */
function toSource(profile: Profile): Profile {
  for (const node of profile.nodes) {
    const frame = node.callFrame;
    if (!frame.url.startsWith('file://') || frame.url.includes('/node_modules/')) continue;
    const entry = findSourceMap(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber);
    if (entry === undefined || !('originalSource' in entry)) continue;
    frame.url = entry.originalSource;
    frame.lineNumber = entry.originalLine;
    frame.columnNumber = entry.originalColumn;
  }
  return profile;
}
