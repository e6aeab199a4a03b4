/**
 * The fields the chosen model takes, and only those, from its capabilities: size, quality, n, output format and
 * compression, background, moderation, style, input fidelity (edits). "default" leaves a field out, so the gateway
 * fills in the model's default.
 */
import type { ModelCapabilities } from '../../api/types';
import type { FieldValue } from './request';

interface Props {
  capabilities: ModelCapabilities;
  editing: boolean;
  options: Record<string, FieldValue>;
  onChange(options: Record<string, FieldValue>): void;
}

function Choice({
  label,
  name,
  values,
  value,
  fallback,
  onChange,
}: {
  label: string;
  name: string;
  values: readonly string[];
  value: FieldValue | undefined;
  fallback: string | null;
  onChange(name: string, value: string): void;
}) {
  return (
    <label className="field">
      <span>{label}</span>
      <select name={name} value={String(value ?? '')} onChange={(e) => onChange(name, e.target.value)}>
        <option value="">default{fallback ? ` (${fallback})` : ''}</option>
        {values.map((v) => (
          <option key={v} value={v}>
            {v}
          </option>
        ))}
      </select>
    </label>
  );
}

export function ModelOptions({ capabilities: caps, editing, options, onChange }: Props) {
  const set = (name: string, value: FieldValue) => onChange({ ...options, [name]: value });
  const format = String(options.output_format || caps.default_output_format || '');
  return (
    <div className="options-grid">
      {caps.sizes.length > 0 ? <Choice label="Size" name="size" values={caps.sizes} value={options.size} fallback={caps.default_size} onChange={set} /> : null}
      {caps.qualities.length > 0 ? (
        <Choice label="Quality" name="quality" values={caps.qualities} value={options.quality} fallback={caps.default_quality} onChange={set} />
      ) : null}
      {caps.max_n > 1 ? (
        <label className="field">
          <span>Images (n)</span>
          <input
            type="number"
            name="n"
            min={1}
            max={caps.max_n}
            value={String(options.n ?? '')}
            placeholder="1"
            onChange={(e) => set('n', e.target.value === '' ? '' : Number(e.target.value))}
          />
        </label>
      ) : null}
      {caps.output_formats.length > 0 ? (
        <Choice
          label="Format"
          name="output_format"
          values={caps.output_formats}
          value={options.output_format}
          fallback={caps.default_output_format}
          onChange={set}
        />
      ) : null}
      {caps.output_compression && (format === 'jpeg' || format === 'webp') ? (
        <label className="field">
          <span>Compression (0-100)</span>
          <input
            type="number"
            name="output_compression"
            min={0}
            max={100}
            value={String(options.output_compression ?? '')}
            placeholder="100"
            onChange={(e) => set('output_compression', e.target.value === '' ? '' : Number(e.target.value))}
          />
        </label>
      ) : null}
      {caps.backgrounds.length > 0 ? (
        <Choice label="Background" name="background" values={caps.backgrounds} value={options.background} fallback={null} onChange={set} />
      ) : null}
      {caps.moderations.length > 0 ? (
        <Choice label="Moderation" name="moderation" values={caps.moderations} value={options.moderation} fallback={null} onChange={set} />
      ) : null}
      {caps.styles && caps.styles.length > 0 ? (
        <Choice label="Style" name="style" values={caps.styles} value={options.style} fallback={null} onChange={set} />
      ) : null}
      {editing && caps.input_fidelity ? (
        <Choice label="Input fidelity" name="input_fidelity" values={['low', 'high']} value={options.input_fidelity} fallback={null} onChange={set} />
      ) : null}
    </div>
  );
}
