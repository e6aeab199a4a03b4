/**
 * The mask painter: brush and eraser over the first input image, at the image's own resolution. The mask it
 * exports is a PNG of that size, opaque everywhere except where painted, which is fully transparent (alpha 0):
 * OpenAI's mask semantics, the transparent area is what the edit may change.
 */
import { type PointerEvent, useCallback, useEffect, useRef, useState } from 'react';
import type { UploadedImage } from './request';

type Tool = 'brush' | 'eraser';

interface Props {
  image: UploadedImage;
  onChange(mask: UploadedImage | undefined): void;
}

export function MaskPainter({ image, onChange }: Props) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [size, setSize] = useState<{ width: number; height: number }>();
  const [url, setUrl] = useState<string>();
  const [tool, setTool] = useState<Tool>('brush');
  const [brush, setBrush] = useState(48);
  const [painted, setPainted] = useState(false);
  const last = useRef<{ x: number; y: number }>(undefined);

  useEffect(() => {
    const objectUrl = URL.createObjectURL(image.blob);
    setUrl(objectUrl);
    let cancelled = false;
    createImageBitmap(image.blob)
      .then((bitmap) => {
        if (!cancelled) setSize({ width: bitmap.width, height: bitmap.height });
        bitmap.close();
      })
      .catch(() => setSize(undefined));
    setPainted(false);
    onChange(undefined);
    return () => {
      cancelled = true;
      URL.revokeObjectURL(objectUrl);
    };
  }, [image, onChange]);

  const exportMask = useCallback(() => {
    const overlay = canvas.current;
    if (!overlay || !size) return;
    const out = document.createElement('canvas');
    out.width = size.width;
    out.height = size.height;
    const ctx = out.getContext('2d');
    if (!ctx) return;
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, size.width, size.height);
    // Every painted pixel of the overlay cuts a hole: alpha 0 there, the edit's area.
    ctx.globalCompositeOperation = 'destination-out';
    ctx.drawImage(overlay, 0, 0);
    out.toBlob((blob) => {
      if (blob) onChange({ name: 'mask.png', blob });
    }, 'image/png');
  }, [onChange, size]);

  const point = (event: PointerEvent<HTMLCanvasElement>) => {
    const rect = event.currentTarget.getBoundingClientRect();
    const scale = event.currentTarget.width / rect.width;
    return { x: (event.clientX - rect.left) * scale, y: (event.clientY - rect.top) * scale, scale };
  };

  const stroke = (from: { x: number; y: number }, to: { x: number; y: number }, scale: number) => {
    const ctx = canvas.current?.getContext('2d');
    if (!ctx) return;
    // Solid strokes, so the exported hole is fully transparent; the overlay's look comes from the canvas's CSS opacity.
    ctx.globalCompositeOperation = tool === 'brush' ? 'source-over' : 'destination-out';
    ctx.strokeStyle = '#ff4040';
    ctx.lineWidth = brush * scale;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
  };

  const down = (event: PointerEvent<HTMLCanvasElement>) => {
    event.preventDefault(); // no text selection while painting
    event.currentTarget.setPointerCapture(event.pointerId);
    const p = point(event);
    last.current = p;
    stroke(p, p, p.scale);
  };
  const move = (event: PointerEvent<HTMLCanvasElement>) => {
    if (!last.current) return;
    const p = point(event);
    stroke(last.current, p, p.scale);
    last.current = p;
  };
  const up = () => {
    if (!last.current) return;
    last.current = undefined;
    setPainted(true);
    exportMask();
  };
  const clear = () => {
    const c = canvas.current;
    c?.getContext('2d')?.clearRect(0, 0, c.width, c.height);
    setPainted(false);
    onChange(undefined);
  };

  return (
    <fieldset className="mask-painter">
      <legend>Mask (optional): paint where the edit may change the image</legend>
      <div className="mask-tools">
        <label className="check">
          <input type="radio" name="mask-tool" checked={tool === 'brush'} onChange={() => setTool('brush')} />
          <span>Brush</span>
        </label>
        <label className="check">
          <input type="radio" name="mask-tool" checked={tool === 'eraser'} onChange={() => setTool('eraser')} />
          <span>Eraser</span>
        </label>
        <label className="check">
          <span>Brush size</span>
          <input type="range" min={4} max={256} value={brush} onChange={(e) => setBrush(Number(e.target.value))} />
          <output>{brush}px</output>
        </label>
        <button type="button" onClick={clear} disabled={!painted}>
          Clear mask
        </button>
      </div>
      {url && size ? (
        <div className="mask-stage">
          <img src={url} alt="Edit input, under the mask" width={size.width} height={size.height} />
          <canvas
            ref={canvas}
            width={size.width}
            height={size.height}
            aria-label="Mask canvas: drag to paint"
            data-testid="mask-canvas"
            onPointerDown={down}
            onPointerMove={move}
            onPointerUp={up}
            onPointerCancel={up}
          />
        </div>
      ) : (
        <p className="muted">Reading the image…</p>
      )}
      <p className="muted" aria-live="polite">
        {painted ? 'The painted area is sent as the mask (transparent there).' : 'Nothing painted: the whole image may change.'}
      </p>
    </fieldset>
  );
}
