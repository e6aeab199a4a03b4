/**
 * The playground: pick a model (its capabilities decide the fields shown), write a prompt, optionally add input
 * images (an edit) and paint a mask, then run it sync, streamed (partials live) or as an async task (progress).
 * The results show with download links and the exact request as curl, Python and Node.
 */
import { type FormEvent, useCallback, useEffect, useRef, useState } from 'react';
import { ErrorNotice } from '../../components/ErrorNotice';
import { Page } from '../../components/Page';
import { useSession } from '../../session/session';
import { MaskPainter } from './MaskPainter';
import { ModelOptions } from './ModelOptions';
import { useModel, useModels } from './models';
import { PlaygroundKey } from './PlaygroundKey';
import { ReferenceImages } from './ReferenceImages';
import { Results } from './Results';
import { buildRequest, type FieldValue, type PlaygroundMode, type PlaygroundRequest, type UploadedImage } from './request';
import { type RunProgress, sendRequest } from './send';

const EMPTY: RunProgress = { images: [] };

export function PlaygroundPage() {
  const { clientApi } = useSession();
  return <Page title="Playground">{clientApi ? <Playground /> : <PlaygroundKey />}</Page>;
}

function Playground() {
  const { clientApi } = useSession();
  const models = useModels(clientApi);
  const [modelId, setModelId] = useState<string>();
  const model = useModel(clientApi, modelId);
  const [prompt, setPrompt] = useState('');
  const [options, setOptions] = useState<Record<string, FieldValue>>({});
  const [mode, setMode] = useState<PlaygroundMode>('sync');
  const [partialImages, setPartialImages] = useState(2);
  const [images, setImages] = useState<UploadedImage[]>([]);
  const [mask, setMask] = useState<UploadedImage>();
  const [progress, setProgress] = useState<RunProgress>(EMPTY);
  const [sent, setSent] = useState<PlaygroundRequest>();
  const [error, setError] = useState<unknown>();
  const [running, setRunning] = useState(false);
  const abort = useRef<AbortController>(undefined);

  useEffect(() => {
    const first = models.data?.data[0]?.id;
    if (modelId === undefined && first) setModelId(first);
  }, [models.data, modelId]);
  useEffect(() => () => abort.current?.abort(), []);

  const caps = model.data?.capabilities;
  const streaming = caps?.streaming || undefined;
  const edits = caps?.edits || undefined;
  const effectiveMode: PlaygroundMode = mode === 'stream' && !streaming ? 'sync' : mode;
  const onMask = useCallback((next: UploadedImage | undefined) => setMask(next), []);

  const chooseModel = (id: string) => {
    setModelId(id);
    setOptions({});
  };

  const run = async (event: FormEvent) => {
    event.preventDefault();
    if (!clientApi || !modelId) return;
    const request = buildRequest({
      model: modelId,
      prompt,
      options,
      mode: effectiveMode,
      partialImages: Math.min(partialImages, streaming?.max_partial_images ?? 0),
      images: edits ? images : [],
      mask,
    });
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    setSent(request);
    setProgress(EMPTY);
    setError(undefined);
    setRunning(true);
    try {
      await sendRequest(clientApi, request, setProgress, controller.signal);
    } catch (err) {
      if (!controller.signal.aborted) setError(err);
    } finally {
      if (abort.current === controller) setRunning(false);
    }
  };

  if (models.isError) return <ErrorNotice error={models.error} title="The models could not be listed" />;
  if (models.data && models.data.data.length === 0) {
    return <p className="muted">No model is served: no channel is enabled. An admin can add one on the Channels page.</p>;
  }

  return (
    <div className="playground">
      <form className="card playground-form" onSubmit={run} aria-label="Image request">
        <label className="field">
          <span>Model</span>
          <select name="model" value={modelId ?? ''} onChange={(e) => chooseModel(e.target.value)} disabled={!models.data}>
            {models.data?.data.map((m) => (
              <option key={m.id} value={m.id}>
                {m.id}
                {m.owned_by === 'imagegate-demo' ? ' (demo)' : ''}
              </option>
            ))}
          </select>
        </label>
        {model.isError ? <ErrorNotice error={model.error} /> : null}
        <label className="field">
          <span>Prompt</span>
          <textarea name="prompt" rows={4} required maxLength={caps?.max_prompt_chars} value={prompt} onChange={(e) => setPrompt(e.target.value)} />
        </label>
        {caps ? <ModelOptions capabilities={caps} editing={images.length > 0} options={options} onChange={setOptions} /> : null}
        <fieldset className="modes">
          <legend>How to run it</legend>
          <label className="check">
            <input type="radio" name="mode" checked={effectiveMode === 'sync'} onChange={() => setMode('sync')} />
            <span>Wait for the answer</span>
          </label>
          <label className="check">
            <input type="radio" name="mode" checked={effectiveMode === 'stream'} disabled={!streaming} onChange={() => setMode('stream')} />
            <span>Stream{streaming ? '' : ' (this model does not stream)'}</span>
          </label>
          <label className="check">
            <input type="radio" name="mode" checked={effectiveMode === 'async'} onChange={() => setMode('async')} />
            <span>Async task</span>
          </label>
          {effectiveMode === 'stream' && streaming ? (
            <label className="check">
              <span>Partial images</span>
              <input
                type="number"
                name="partial_images"
                min={0}
                max={streaming.max_partial_images}
                value={partialImages}
                onChange={(e) => setPartialImages(Number(e.target.value))}
              />
            </label>
          ) : null}
        </fieldset>
        {edits ? (
          <ReferenceImages images={images} maxImages={edits.max_images} accept={edits.formats} onChange={setImages} />
        ) : (
          <p className="muted">This model takes no input images.</p>
        )}
        {edits && images[0] ? <MaskPainter image={images[0]} onChange={onMask} /> : null}
        <div className="form-actions">
          <button type="submit" className="primary" disabled={running || !modelId}>
            {running ? 'Generating…' : images.length > 0 && edits ? 'Edit' : 'Generate'}
          </button>
          {running ? (
            <button type="button" onClick={() => abort.current?.abort()}>
              Stop
            </button>
          ) : null}
        </div>
      </form>
      <div className="playground-output" aria-live="polite">
        {error ? <ErrorNotice error={error} title="The gateway refused" /> : null}
        {!sent && !error ? <p className="muted">Results show here, with the request as curl, Python and Node.</p> : null}
        <Results progress={progress} request={sent} />
      </div>
    </div>
  );
}
