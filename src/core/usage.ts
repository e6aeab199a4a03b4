/**
 * Token usage as answers carry it: OpenAI's image fields (`input_tokens`, `output_tokens`,
 * `total_tokens`, `input_tokens_details`) and beside them the chat-style names relay gateways
 * document for the same answers, which their clients read (`prompt_tokens`, `completion_tokens`,
 * `prompt_tokens_details`, `completion_tokens_details`). Pure.
 */
import type { ImageUsage } from './job.js';

type Json = Record<string, unknown>;

/**
 * The usage in both vocabularies. What the upstream said itself is kept; a field it left out is
 * filled from its counterpart: prompt = input, completion = output (a GPT image model's output
 * tokens are image tokens). A breakdown the upstream did not give is not made up.
 */
export function withChatUsage(usage: ImageUsage): ImageUsage {
  const input = count(usage.input_tokens) ?? count(usage.prompt_tokens);
  const output = count(usage.output_tokens) ?? count(usage.completion_tokens);
  const inputDetails = tokenDetails(usage.input_tokens_details) ?? tokenDetails(usage.prompt_tokens_details);
  const promptDetails =
    objectOf(usage.prompt_tokens_details) ?? (inputDetails ? { ...inputDetails, cached_tokens: count(inputDetails.cached_tokens) ?? 0 } : undefined);
  const completionDetails = objectOf(usage.completion_tokens_details) ?? completionDetailsOf(usage.output_tokens_details, output);
  return {
    ...usage,
    ...(input !== undefined ? { input_tokens: input } : {}),
    ...(output !== undefined ? { output_tokens: output } : {}),
    ...(inputDetails && usage.input_tokens_details === undefined
      ? { input_tokens_details: { text_tokens: inputDetails.text_tokens, image_tokens: inputDetails.image_tokens } }
      : {}),
    ...(input !== undefined ? { prompt_tokens: count(usage.prompt_tokens) ?? input } : {}),
    ...(output !== undefined ? { completion_tokens: count(usage.completion_tokens) ?? output } : {}),
    ...(promptDetails ? { prompt_tokens_details: promptDetails } : {}),
    ...(completionDetails ? { completion_tokens_details: completionDetails } : {}),
  };
}

/** OpenAI's `output_tokens_details` when given, else all output tokens are image tokens. */
function completionDetailsOf(outputDetails: unknown, output: number | undefined): Json | undefined {
  const given = objectOf(outputDetails);
  if (given) return { image_tokens: count(given.image_tokens) ?? 0, text_tokens: count(given.text_tokens) ?? 0 };
  return output !== undefined ? { image_tokens: output, text_tokens: 0 } : undefined;
}

/** A text/image token breakdown, when both counts are there. */
function tokenDetails(value: unknown): (Json & { text_tokens: number; image_tokens: number }) | undefined {
  const details = objectOf(value);
  if (!details) return undefined;
  const text = count(details.text_tokens);
  const image = count(details.image_tokens);
  return text !== undefined && image !== undefined ? { ...details, text_tokens: text, image_tokens: image } : undefined;
}

function objectOf(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}
