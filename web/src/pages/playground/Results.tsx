/** What a run produced: the images (partials marked), each with a download link, and the request as code. */
import { useState } from 'react';
import { displayableImageUrl } from '../../api/image-links';
import type { PlaygroundRequest } from './request';
import type { RunProgress } from './send';
import { type SnippetLanguage, snippet } from './snippets';

const LANGUAGES: readonly { id: SnippetLanguage; label: string }[] = [
  { id: 'curl', label: 'curl' },
  { id: 'python', label: 'Python' },
  { id: 'node', label: 'Node' },
];

export function Results({ progress, request }: { progress: RunProgress; request: PlaygroundRequest | undefined }) {
  return (
    <div className="results">
      {progress.task ? (
        <div className="task-progress">
          <label>
            <span>
              Task <code>{progress.task.id}</code>: {progress.task.status}
            </span>
            <progress max={100} value={progress.task.progress} aria-label="Task progress">
              {progress.task.progress}%
            </progress>
          </label>
        </div>
      ) : null}
      {progress.images.length > 0 ? (
        <ul className="result-grid" aria-label="Results">
          {progress.images.map((image, index) => (
            // Slots are stable: a partial is replaced in place by its completed image.
            // biome-ignore lint/suspicious/noArrayIndexKey: the slot index is the image's identity in a run.
            <li key={index} className={image.partial ? 'result partial' : 'result'}>
              <img
                src={displayableImageUrl(image.src)}
                alt={image.partial ? `Preview of image ${index + 1}` : `Image ${index + 1}`}
                data-partial={image.partial}
              />
              <div className="result-meta">
                {image.partial ? (
                  <span className="badge">partial</span>
                ) : (
                  <a href={displayableImageUrl(image.src)} download={`imagegate-${index + 1}.${image.format}`}>
                    Download
                  </a>
                )}
                {image.revisedPrompt ? <span className="muted">{image.revisedPrompt}</span> : null}
              </div>
            </li>
          ))}
        </ul>
      ) : null}
      {request ? <RequestCode request={request} /> : null}
    </div>
  );
}

function RequestCode({ request }: { request: PlaygroundRequest }) {
  const [language, setLanguage] = useState<SnippetLanguage>('curl');
  const [copied, setCopied] = useState(false);
  const code = snippet(language, request, window.location.origin);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(code);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return (
    <section className="request-code" aria-label="The request as code">
      <div className="tabs" role="tablist" aria-label="Copy as">
        {LANGUAGES.map((l) => (
          <button
            key={l.id}
            type="button"
            role="tab"
            aria-selected={language === l.id}
            className={language === l.id ? 'tab active' : 'tab'}
            onClick={() => {
              setLanguage(l.id);
              setCopied(false);
            }}
          >
            {l.label}
          </button>
        ))}
        <button type="button" onClick={copy} className="copy">
          {copied ? 'Copied' : `Copy as ${LANGUAGES.find((l) => l.id === language)?.label}`}
        </button>
      </div>
      <pre data-testid="request-code">
        <code>{code}</code>
      </pre>
      {request.images.length > 0 ? (
        <p className="muted">Save the input images{request.mask ? ' and the mask (mask.png)' : ''} beside the script under the names shown.</p>
      ) : null}
    </section>
  );
}
