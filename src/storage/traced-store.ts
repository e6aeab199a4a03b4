/**
 * An ImageStore whose writes are spans (tracing on): one per image written, whole or as it
 * arrives, saying which store, how many bytes and what type. Reads, deletes and probes are not traced.
 */
import { IMAGE_EXTENSION, IMAGE_MIME, type ImageKind } from '../core/image-bytes.js';
import type { Span, Spans } from '../core/spans.js';
import type { ImageSink, ImageStore } from './image-store.js';

export type StoreKind = 'file' | 's3';

const MIME_BY_EXTENSION: ReadonlyMap<string, string> = new Map(
  (Object.keys(IMAGE_EXTENSION) as ImageKind[]).map((kind) => [IMAGE_EXTENSION[kind], IMAGE_MIME[kind]]),
);

/** A store that can be closed, as the app holds it. */
export type ClosableStore = ImageStore & { close(): Promise<void> };

/** `store` itself when tracing is off. */
export function tracedStore(store: ClosableStore, kind: StoreKind, spans: Spans): ClosableStore {
  if (!spans.recording) return store;
  const attributes = (name: string, bytes?: number) => ({
    'imagegate.store.kind': kind,
    'imagegate.image.mime': MIME_BY_EXTENSION.get(name.slice(name.lastIndexOf('.') + 1)),
    'imagegate.image.bytes': bytes,
  });
  const linkFor = store.linkFor?.bind(store);
  const read = store.read?.bind(store);
  return {
    put: (name, bytes) => spans.run('imagegate.store', 'internal', attributes(name, bytes.length), () => store.put(name, bytes)),
    openWrite: (name) => sinkSpanned(store.openWrite(name), spans.start('imagegate.store', 'internal', attributes(name))),
    open: (name) => store.open(name),
    ...(read ? { read } : {}),
    delete: (name) => store.delete(name),
    checkWritable: (timeoutMs) => store.checkWritable(timeoutMs),
    ...(linkFor ? { linkFor } : {}),
    close: () => store.close(),
  };
}

/** The span ends when the image is whole (its bytes counted) or abandoned. */
function sinkSpanned(sink: ImageSink, span: Span): ImageSink {
  let bytes = 0;
  return {
    write: async (pieces) => {
      for (const piece of pieces) bytes += piece.length;
      await sink.write(pieces);
    },
    close: async () => {
      span.set({ 'imagegate.image.bytes': bytes });
      try {
        await sink.close();
      } catch (err) {
        span.fail('store_failed', 'the image could not be stored whole');
        throw err;
      } finally {
        span.end();
      }
    },
    abort: async () => {
      span.set({ 'imagegate.image.bytes': bytes });
      span.fail('aborted', 'the image was not stored whole');
      try {
        await sink.abort();
      } finally {
        span.end();
      }
    },
  };
}
