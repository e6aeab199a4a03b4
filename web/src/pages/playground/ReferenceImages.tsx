/** Input images: dropped on the zone or picked with the file picker; with any, the request is an edit. */
import { type DragEvent, useEffect, useId, useState } from 'react';
import type { UploadedImage } from './request';

interface Props {
  images: UploadedImage[];
  maxImages: number;
  accept: readonly string[];
  onChange(images: UploadedImage[]): void;
}

export function ReferenceImages({ images, maxImages, accept, onChange }: Props) {
  const inputId = useId();
  const [over, setOver] = useState(false);
  const add = (files: FileList | null) => {
    if (!files) return;
    const picked = [...files].filter((file) => file.type.startsWith('image/')).map((file) => ({ name: file.name || 'image.png', blob: file }));
    onChange([...images, ...picked].slice(0, maxImages));
  };
  const drop = (event: DragEvent<HTMLDivElement>) => {
    event.preventDefault();
    setOver(false);
    add(event.dataTransfer.files);
  };
  return (
    <fieldset className="reference-images">
      <legend>
        Input images <span className="muted">(up to {maxImages}; makes it an edit)</span>
      </legend>
      {/* biome-ignore lint/a11y/noStaticElementInteractions: a drop target for dragged files; the file input inside it is the keyboard's way in. */}
      <div
        className={over ? 'drop-zone over' : 'drop-zone'}
        data-testid="drop-zone"
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={drop}
      >
        <label htmlFor={inputId}>Drop images here, or choose files</label>
        <input id={inputId} type="file" multiple accept={accept.map((f) => `image/${f}`).join(',')} onChange={(e) => add(e.target.files)} />
      </div>
      {images.length > 0 ? (
        <ul className="thumbs">
          {images.map((image, index) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: uploads have no identity but their place; Thumb follows its image prop.
            <li key={`${image.name}-${index}`}>
              <Thumb image={image} />
              <button type="button" className="ghost" onClick={() => onChange(images.filter((_, i) => i !== index))} aria-label={`Remove ${image.name}`}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      ) : null}
    </fieldset>
  );
}

function Thumb({ image }: { image: UploadedImage }) {
  const [url, setUrl] = useState<string>();
  useEffect(() => {
    const objectUrl = URL.createObjectURL(image.blob);
    setUrl(objectUrl);
    return () => URL.revokeObjectURL(objectUrl);
  }, [image]);
  return url ? <img src={url} alt={image.name} className="thumb" /> : null;
}
