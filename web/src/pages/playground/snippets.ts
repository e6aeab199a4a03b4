/**
 * "Copy as curl / Python / Node": the request the playground made, as code. The key is never shown: the snippets read
 * it from $IMAGEGATE_KEY. Files are named as they were uploaded (the mask as mask.png), to be saved beside the script.
 */
import { ASYNC_HEADER, type FieldValue, type PlaygroundRequest } from './request';

export type SnippetLanguage = 'curl' | 'python' | 'node';

export function snippet(language: SnippetLanguage, request: PlaygroundRequest, origin: string): string {
  if (language === 'curl') return curlSnippet(request, origin);
  if (language === 'python') return pythonSnippet(request, origin);
  return nodeSnippet(request, origin);
}

/** A shell word in single quotes. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

function curlSnippet(request: PlaygroundRequest, origin: string): string {
  const lines = [`curl${request.mode === 'stream' ? ' -N' : ''} ${shellQuote(`${origin}${request.endpoint}`)}`, '  -H "Authorization: Bearer $IMAGEGATE_KEY"'];
  if (request.mode === 'async') lines.push(`  -H '${ASYNC_HEADER}: true'`);
  if (request.endpoint === '/v1/images/edits') {
    const imageField = request.images.length > 1 ? 'image[]' : 'image';
    for (const image of request.images) lines.push(`  -F ${shellQuote(`${imageField}=@${image.name}`)}`);
    if (request.mask) lines.push(`  -F ${shellQuote(`mask=@${request.mask.name}`)}`);
    for (const [name, value] of Object.entries(request.fields)) lines.push(`  -F ${shellQuote(`${name}=${String(value)}`)}`);
  } else {
    lines.push('  -H "Content-Type: application/json"', `  -d ${shellQuote(JSON.stringify(request.fields))}`);
  }
  return lines.join(' \\\n');
}

function pythonValue(value: FieldValue): string {
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}

/** Fields the SDK method takes as named arguments; the async header goes as extra_headers. */
function pythonArguments(request: PlaygroundRequest): string[] {
  const args: string[] = [];
  if (request.endpoint === '/v1/images/edits') {
    const files = request.images.map((image) => `open(${JSON.stringify(image.name)}, "rb")`);
    args.push(`image=${request.images.length > 1 ? `[${files.join(', ')}]` : (files[0] ?? '')}`);
    if (request.mask) args.push(`mask=open(${JSON.stringify(request.mask.name)}, "rb")`);
  }
  for (const [name, value] of Object.entries(request.fields)) args.push(`${name}=${pythonValue(value)}`);
  if (request.mode === 'async') args.push(`extra_headers={${JSON.stringify(ASYNC_HEADER)}: "true"}`);
  return args;
}

function pythonSnippet(request: PlaygroundRequest, origin: string): string {
  const method = request.endpoint === '/v1/images/edits' ? 'edit' : 'generate';
  const call = `client.images.${method}(\n${pythonArguments(request)
    .map((arg) => `    ${arg},`)
    .join('\n')}\n)`;
  const lines = [
    'import os',
    'from openai import OpenAI',
    '',
    `client = OpenAI(base_url=${JSON.stringify(`${origin}/v1`)}, api_key=os.environ["IMAGEGATE_KEY"])`,
  ];
  if (request.mode === 'stream') lines.push(`stream = ${call}`, 'for event in stream:', '    print(event.type)');
  else if (request.mode === 'async')
    lines.push(
      `# new-api's async mode: the answer is {"code": "success", "data": {"task_id", "status"}}; poll GET /v1/images/tasks/{task_id}`,
      `task = ${call.replace(`client.images.${method}(`, `client.images.with_raw_response.${method}(`)}`,
      'print(task.http_response.json())',
    );
  else lines.push(`result = ${call}`, 'print(result.data[0].url or "b64_json: %d chars" % len(result.data[0].b64_json))');
  return lines.join('\n');
}

function nodeValue(value: FieldValue): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function nodeSnippet(request: PlaygroundRequest, origin: string): string {
  const method = request.endpoint === '/v1/images/edits' ? 'edit' : 'generate';
  const props: string[] = [];
  if (request.endpoint === '/v1/images/edits') {
    const files = request.images.map((image) => `fs.createReadStream(${JSON.stringify(image.name)})`);
    props.push(`image: ${request.images.length > 1 ? `[${files.join(', ')}]` : (files[0] ?? '')}`);
    if (request.mask) props.push(`mask: fs.createReadStream(${JSON.stringify(request.mask.name)})`);
  }
  for (const [name, value] of Object.entries(request.fields)) props.push(`${name}: ${nodeValue(value)}`);
  const body = `{\n${props.map((p) => `  ${p},`).join('\n')}\n}`;
  const options = request.mode === 'async' ? `, { headers: { ${JSON.stringify(ASYNC_HEADER)}: 'true' } }` : '';
  const lines = [
    ...(request.endpoint === '/v1/images/edits' ? ["import fs from 'node:fs';"] : []),
    "import OpenAI from 'openai';",
    '',
    `const client = new OpenAI({ baseURL: ${JSON.stringify(`${origin}/v1`)}, apiKey: process.env.IMAGEGATE_KEY });`,
  ];
  if (request.mode === 'stream')
    lines.push(`const stream = await client.images.${method}(${body});`, 'for await (const event of stream) console.log(event.type);');
  else if (request.mode === 'async')
    lines.push(
      "// new-api's async mode: the answer is {code: 'success', data: {task_id, status}}; poll GET /v1/images/tasks/{task_id}",
      `const task = await client.images.${method}(${body}${options}).asResponse();`,
      'console.log(await task.json());',
    );
  else lines.push(`const result = await client.images.${method}(${body});`, 'console.log(result.data?.[0]?.url ?? result.data?.[0]?.b64_json?.length);');
  return lines.join('\n');
}
