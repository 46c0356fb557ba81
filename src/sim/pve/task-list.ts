/**
 * GET /nodes/{node}/tasks as pve-manager PVE/API2/Tasks.pm `node_tasks` answers it:
 * - `source=active` reads the node's active worker list (INotify `active`): its running tasks, as
 *   upid_decode gives them — `user` is the whole UPID user, a token's `user@realm!name` — with
 *   status `RUNNING`; `archive` (the default) reads the task index backwards, newest first, where
 *   a token's task is split by `$convert_token_task` into `user` (`user@realm`) and `tokenid`
 *   (`name`), with `endtime` and `status` (the exit status); `all` is active, then archive.
 *   The simulator archives a task the moment it ends (real pvedaemon does so on its next
 *   active-worker update, a moment later).
 * - Visibility: every task with Sys.Audit on /nodes/<node>, else `$check_task_user`: a task with a
 *   `tokenid` is the token's and its user's; one without only its exact `user`. An active token
 *   task carries no `tokenid`, so only the token itself sees it there, not its user.
 * - Filters in `$filter_task`'s order: `userfilter` (case-insensitive substring of `user`: for an
 *   archived token task, of `user@realm` only), visibility, `typefilter` (exact), `vmid` (the UPID
 *   id), `since`/`until` (starttime), `errors`/`statusfilter`, then `start` skips and `limit` stops.
 */
import type { TaskInfo } from './tasks.js';
import { splitList } from './formats.js';
import type { Params, PveWorld } from './world.js';

type Entry = Record<string, string | number>;

/** PVE::Tools::upid_normalize_status_type */
function statusType(status: string | undefined): string {
  if (!status) return 'unknown';
  if (status === 'OK') return 'ok';
  if (/^WARNINGS: \d+$/.test(status)) return 'warning';
  if (status === 'unexpected status') return 'unknown';
  return 'error';
}

const base = (t: TaskInfo): Entry => ({ upid: t.upid, node: t.node, pid: t.pid, pstart: t.pstart, starttime: t.starttime, type: t.type, id: t.id, user: t.user });

/** $convert_token_task: `user@realm!name` → user `user@realm`, tokenid `name`. */
function archived(t: TaskInfo): Entry {
  const e = base(t);
  const bang = t.user.indexOf('!');
  if (bang > 0) Object.assign(e, { user: t.user.slice(0, bang), tokenid: t.user.slice(bang + 1) });
  if (t.endtime !== undefined) e.endtime = t.endtime;
  if (t.exitstatus !== undefined) e.status = t.exitstatus;
  return e;
}

export function nodeTasks(w: PveWorld, p: Params): unknown {
  const start = Number(p.start ?? 0);
  let limit = Number(p.limit ?? 50);
  const source = p.source ?? 'archive';
  const errors = p.errors === '1' || p.errors === 'true';
  let statuses = new Set(['ok', 'warning', 'error', 'unknown']);
  if (p.statusfilter !== undefined && !errors) statuses = new Set(splitList(p.statusfilter).map((s) => s.toLowerCase()));
  else if (errors) statuses.delete('ok');
  const auditor = w.privileges.has(`/nodes/${p.node}`, 'Sys.Audit');
  const mine = (e: Entry) => (e.tokenid !== undefined ? w.user === `${e.user}!${e.tokenid}` || w.user === e.user : w.user === e.user);
  let count = 0;
  const skip = (e: Entry): boolean => {
    if (p.userfilter && !String(e.user).toLowerCase().includes(p.userfilter.toLowerCase())) return true;
    if (!(auditor || mine(e))) return true;
    if (p.typefilter && e.type !== p.typefilter) return true;
    if (p.vmid && (!e.id || e.id !== p.vmid)) return true;
    if (p.since !== undefined && Number(e.starttime) < Number(p.since)) return true;
    if (p.until !== undefined && Number(e.starttime) > Number(p.until)) return true;
    if (!statuses.has(statusType(e.status === undefined ? undefined : String(e.status)))) return true;
    if (count++ < start) return true;
    return limit <= 0;
  };
  const out: Entry[] = [];
  const tasks = w.tasks.onNode(p.node!);
  if (source === 'active' || source === 'all') {
    for (const t of tasks.filter((x) => x.status === 'running')) {
      const e = base(t);
      if (skip(e)) continue;
      out.push({ ...e, status: 'RUNNING' });
      limit--;
    }
  }
  if (source !== 'active') {
    const ended = tasks.filter((x) => x.status === 'stopped').sort((a, b) => (b.endtime ?? 0) - (a.endtime ?? 0));
    for (const t of ended) {
      const e = archived(t);
      if (skip(e)) continue;
      out.push(e);
      limit--;
    }
  }
  return out;
}
