/** A failure as the gateway told it: its message, and its code when it gave one. */
import { describeError } from '../api/errors';

export function ErrorNotice({ error, title }: { error: unknown; title?: string }) {
  const { message, code } = describeError(error);
  return (
    <div className="error-notice" role="alert">
      {title ? <strong>{title}: </strong> : null}
      <span className="error-message">{message}</span>
      {code ? <code className="error-code">{code}</code> : null}
    </div>
  );
}
