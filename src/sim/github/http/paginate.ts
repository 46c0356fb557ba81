/**
 * GitHub's page-number pagination: `per_page` (default 30, at most 100) and `page` (from 1), with a
 * `link` header naming prev/next/last/first pages by the request's own URL.
 */
export interface Page<T> {
  items: T[];
  link: string | undefined;
}

function positiveInt(v: string | null, dflt: number): number {
  const n = v === null ? NaN : Number(v);
  return Number.isInteger(n) && n >= 1 ? n : dflt;
}

export function paginate<T>(all: readonly T[], url: URL, base: string): Page<T> {
  const perPage = Math.min(100, positiveInt(url.searchParams.get('per_page'), 30));
  const page = positiveInt(url.searchParams.get('page'), 1);
  const last = Math.max(1, Math.ceil(all.length / perPage));
  const items = all.slice((page - 1) * perPage, page * perPage);
  const ref = (p: number, rel: string): string => {
    const u = new URL(url.pathname + url.search, base);
    u.searchParams.set('page', String(p));
    return `<${u.toString()}>; rel="${rel}"`;
  };
  const links: string[] = [];
  if (page > 1) links.push(ref(Math.min(page - 1, last), 'prev'));
  if (page < last) links.push(ref(page + 1, 'next'), ref(last, 'last'));
  if (page > 1) links.push(ref(1, 'first'));
  return { items, link: links.length ? links.join(', ') : undefined };
}
