/**
 * 5xx answers as GitHub's edge sends them besides its JSON `{"message": "Server Error"}`: an HTML
 * page with `content-type: text/html` (the "Unicorn!" page of a 502/503, or the load balancer's
 * short 504 page), or no body at all. Seen by clients: octokit/graphql.js#554 and
 * osunyorg/admin#1792 (502 with `<title>Unicorn! &middot; GitHub</title>` from api.github.com),
 * PyGithub#2047 (the same page, CRLF line ends), XAMPPRocky/octocrab#772 (504, `text/html`, a
 * 92-byte `<h1>504 Gateway Time-out</h1>` page, with the x-ratelimit-* headers). The pages here are
 * written for the simulator in that shape, not copied.
 */
import type { GithubErrorBody } from '../../scenario.js';

export interface RawBody {
  contentType?: string;
  text: string;
}

const UNICORN = [
  '<!DOCTYPE html>',
  '<!-- simulated GitHub error page -->',
  '<html>',
  '  <head>',
  '    <meta http-equiv="Content-type" content="text/html; charset=utf-8">',
  '    <title>Unicorn! &middot; GitHub</title>',
  '    <style type="text/css" media="screen">',
  '      body { background-color: #f1f1f1; margin: 0; font-family: "Helvetica Neue", Helvetica, Arial, sans-serif; }',
  '      .container { margin: 50px auto 40px auto; width: 600px; text-align: center; }',
  '      a { color: #4183c4; text-decoration: none; }',
  '      a:hover { text-decoration: underline; }',
  '      h1 { letter-spacing: -1px; line-height: 60px; font-size: 60px; font-weight: 100; margin: 0px; text-shadow: 0 1px 0 #fff; }',
  '      p { color: rgba(0, 0, 0, 0.5); margin: 10px 0 10px; font-size: 18px; font-weight: 200; line-height: 1.6em; }',
  '      ul { list-style: none; margin: 25px 0; padding: 0; }',
  '      li { display: table-cell; font-weight: bold; width: 1%; }',
  '    </style>',
  '  </head>',
  '  <body>',
  '    <div class="container">',
  '      <h1>Unicorn!</h1>',
  '      <p><strong>No server is currently available to service your request.</strong></p>',
  '      <p>Sorry about that. Please try refreshing and contact us if the problem persists.</p>',
  '      <ul><li><a href="https://support.github.com/contact">Contact Support</a></li><li><a href="https://www.githubstatus.com">GitHub Status</a></li></ul>',
  '    </div>',
  '  </body>',
  '</html>',
  '',
].join('\r\n');

const GATEWAY_TIMEOUT = "<html><body><h1>504 Gateway Time-out</h1>\nThe server didn't respond in time.\n</body></html>\n";

/** Status and body of one injected server error of the given kind (`pick` chooses between two). */
export function serverError(kind: GithubErrorBody, pick: boolean): { status: number; raw?: RawBody } {
  switch (kind) {
    case 'json':
      return { status: pick ? 502 : 500 };
    case 'html':
      return pick ? { status: 502, raw: { contentType: 'text/html; charset=utf-8', text: UNICORN } } : { status: 504, raw: { contentType: 'text/html', text: GATEWAY_TIMEOUT } };
    case 'empty':
      return { status: pick ? 502 : 503, raw: { text: '' } };
  }
}
