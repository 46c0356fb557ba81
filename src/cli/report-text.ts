import type { Report } from '../sim/report.js';

const s = (v: number | null) => (v === null ? '–' : `${v}s`);

/** The report for people; `--json` prints the object itself. */
export function formatReport(r: Report): string {
  const leaks = r.leaks.vms + r.leaks.registrations + r.leaks.snippets + r.leaks.foreign_touched;
  const lines = [
    `pve-runners demo report — ${r.scenario} at speed ${r.speed}x, ${r.duration_s}s of scenario time${r.finished ? '' : ' (TIME LIMIT REACHED before the workload settled)'}`,
    `  jobs:     ${r.jobs.completed}/${r.jobs.total - r.jobs.unmatched} completed, ${r.jobs.unmatched} matched no pool, ${r.jobs.failed} failed, ${r.jobs.cancelled} cancelled, ${r.jobs.taken_by_foreign} taken by foreign runners`,
    `  pickup:   p50 ${s(r.jobs.pickup_latency_s.p50)}, p95 ${s(r.jobs.pickup_latency_s.p95)}, max ${s(r.jobs.pickup_latency_s.max)} (queued → a runner took it)`,
    ...Object.entries(r.pickup.by_pool).flatMap(([pool, tiers]) => Object.entries(tiers).map(([tier, f]) =>
      `    ${pool} ${tier}: ${f.jobs} jobs, p50 ${s(f.p50)}, p95 ${s(f.p95)}, floor ${s(f.floor_s)}; mean ${Object.entries(f.stage_means_s).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}s`).join(', ')}; daemon ${f.daemon_s_mean}s`)),
    `  VMs:      ${r.vms.created} created, peak ${r.vms.peak_total} at once (${Object.entries(r.vms.peak_by_pool).map(([p, n]) => `${p} ${n}`).join(', ') || 'none'})`,
    `  github:   ${r.github.requests} requests, ${r.github.counted_against_rate_limit} counted against the rate limit, ${r.github.not_modified} answered 304, ${r.github.secondary_limited} refused by secondary limits (peak ${r.github.peak_points_per_minute} points/min, ${r.github.peak_in_flight} in flight)`,
    `  proxmox:  ${r.proxmox.requests} requests, ${r.proxmox.tasks} tasks, ${r.proxmox.task_failures} failed tasks`,
    `  leaks:    ${leaks === 0 ? 'none' : `VMs ${r.leaks.vms}, registrations ${r.leaks.registrations}, snippets ${r.leaks.snippets}, foreign touched ${r.leaks.foreign_touched}`}`,
    `  caps:     ${r.cap_violations === 0 ? 'never exceeded' : `${r.cap_violations} violations: ${r.cap_violation_details.join('; ')}`}`,
    `  daemon:   ${r.controller.cpu_s ?? '–'} CPU seconds, peak RSS ${r.controller.max_rss_mb ?? '–'} MB`,
  ];
  return lines.join('\n');
}
