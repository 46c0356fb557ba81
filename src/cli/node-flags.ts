/**
 * Node's flags for the daemon process, in the systemd unit's ExecStart and for the daemon the demo
 * starts (so the bench measures what is shipped). The daemon's live heap is small (31 MB at 500
 * repositories: mostly code and the ETag cache), but a tick's burst of requests allocates fast, and
 * with V8's default limit the old generation grew to ~250 MB of RSS before collecting; capped at
 * 128 MB it stays near 145 MB at the same CPU per tick (`npm run bench -- --growth`). Raise it if
 * the live heap grows (a larger ETag cache): V8 collects harder near the cap and fails beyond it.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-old-space-size=128'];
