/**
 * glibc's malloc_trim: hands the free pages inside the C heap back to the system. Node's buffers
 * come from malloc, and glibc returns freed memory by itself only from the top of its heap; a
 * wave of answers leaves that heap full of holes (64 KiB socket reads, decode slabs), so after
 * the wave the process kept ~400 MB it no longer used (docs/deploy.md, "After a wave"). Node has
 * no binding for it: koffi (an FFI library with prebuilt binaries in its npm packages) calls
 * libc directly. Elsewhere (macOS, musl, a koffi without a binary for this machine) there is
 * nothing to call and nothing is done.
 */

/** Gives back what it can; true when it released any memory. */
export type MallocTrim = () => boolean;

let loading: Promise<MallocTrim | null> | undefined;

/** The trim function, loaded at its first use (start-up loads no FFI); null where there is none. */
export function mallocTrim(): Promise<MallocTrim | null> {
  loading ??= load();
  return loading;
}

interface ReportHeader {
  header?: { glibcVersionRuntime?: string };
}

async function load(): Promise<MallocTrim | null> {
  if (process.platform !== 'linux') return null;
  try {
    // musl (Alpine) has no malloc_trim; the report names glibc's version when the process runs on it.
    const report = process.report?.getReport() as ReportHeader | undefined;
    if (!report?.header?.glibcVersionRuntime) return null;
    const { default: koffi } = await import('koffi');
    const trim = koffi.load('libc.so.6').func('int malloc_trim(size_t pad)') as (pad: number) => number;
    return () => trim(0) === 1;
  } catch {
    return null;
  }
}
