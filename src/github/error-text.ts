/**
 * One short line for a GitHub error whose body is not GitHub's JSON. @octokit/request makes the
 * body the error's message when it is text (fetch-wrapper toErrorMessage), so a 502 "Unicorn!" page
 * would be logged whole; an empty body gives an empty message. JSON bodies keep their message.
 */
const MAX = 120;

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > MAX ? `${line.slice(0, MAX)}…` : line;
}

function describeBody(data: unknown, contentType: string | undefined): string | undefined {
  if (data !== null && typeof data === 'object' && !(data instanceof ArrayBuffer)) return undefined; // JSON
  if (typeof data !== 'string') return data instanceof ArrayBuffer && data.byteLength > 0 ? `a ${data.byteLength}-byte ${contentType ?? 'binary'} body` : 'an empty body';
  if (data.trim() === '') return 'an empty body';
  if (/^\s*</.test(data) || /html/i.test(contentType ?? '')) {
    const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(data)?.[1] ?? /<h1[^>]*>([\s\S]*?)<\/h1>/i.exec(data)?.[1];
    const decoded = title?.replace(/&middot;/g, '·').replace(/&amp;/g, '&').replace(/&[a-z]+;/g, ' ');
    return decoded ? `an HTML error page ("${oneLine(decoded)}")` : 'an HTML error page';
  }
  return `"${oneLine(data)}"`;
}

/** The short message for an Octokit RequestError, or undefined when its own message will do. */
export function shortGithubError(e: { status?: unknown; response?: { data?: unknown; headers?: Record<string, unknown> } }, method: string, path: string): string | undefined {
  if (typeof e.status !== 'number' || e.status < 400 || !e.response) return undefined;
  const ct = e.response.headers?.['content-type'];
  const body = describeBody(e.response.data, typeof ct === 'string' ? ct : undefined);
  return body === undefined ? undefined : `GitHub answered ${e.status} with ${body} to ${method} ${path}`;
}
