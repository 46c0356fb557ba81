/**
 * GitHub's error bodies: `{message, documentation_url, status}` (status as a string, as the API
 * now sends it). Messages never contain tokens or JIT configs.
 */
export const DOCS = 'https://docs.github.com/rest';
export const PRIMARY_DOCS = 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limits';
export const SECONDARY_DOCS = 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits';

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly extra: Record<string, unknown> = {}, readonly docs?: string) {
    super(message);
  }
}

export function errorBody(status: number, message: string, documentationUrl: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { message, documentation_url: documentationUrl, ...extra, status: String(status) };
}

export const notFound = (): ApiError => new ApiError(404, 'Not Found');
