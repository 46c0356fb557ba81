/**
 * JSON representations as api.github.com returns them (shapes checked against @octokit/openapi's
 * schemas in test/sim-github-contract.test.ts). API URLs point at the simulator so a client that
 * follows them stays on it; html URLs point at github.com as they would on the real thing.
 */
import { labelType } from './labels.js';
import type { ListedRun } from './listed.js';
import type { Account, Job, Repo, Runner, RunnerGroup } from './model.js';
import type { World } from './world.js';

const HTML = 'https://github.com';

/** GitHub's legacy node ids: base64 of `<len of type, 2 digits>:<Type><id>`. */
export function nodeId(type: string, id: number): string {
  return Buffer.from(`${String(type.length).padStart(2, '0')}:${type}${id}`).toString('base64');
}

export class Renderer {
  constructor(private readonly api: string, private readonly epochOf: (scenarioMs: number) => number, private readonly world: World) {}

  iso(scenarioMs: number): string {
    return new Date(this.epochOf(scenarioMs)).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  user(a: Account): Record<string, unknown> {
    const u = `${this.api}/users/${a.login}`;
    return {
      login: a.login, id: a.id, node_id: nodeId(a.type, a.id), avatar_url: `https://avatars.githubusercontent.com/u/${a.id}?v=4`, gravatar_id: '',
      url: u, html_url: `${HTML}/${a.login}`, followers_url: `${u}/followers`, following_url: `${u}/following{/other_user}`,
      gists_url: `${u}/gists{/gist_id}`, starred_url: `${u}/starred{/owner}{/repo}`, subscriptions_url: `${u}/subscriptions`,
      organizations_url: `${u}/orgs`, repos_url: `${u}/repos`, events_url: `${u}/events{/privacy}`, received_events_url: `${u}/received_events`,
      type: a.type, user_view_type: 'public', site_admin: false,
    };
  }

  /** `minimal-repository`, with the token's permissions (admin everywhere: it manages runners). */
  minimalRepo(r: Repo): Record<string, unknown> {
    const u = `${this.api}/repos/${r.fullName}`;
    return {
      id: r.id, node_id: nodeId('Repository', r.id), name: r.name, full_name: r.fullName, owner: this.user(r.owner), private: true,
      html_url: `${HTML}/${r.fullName}`, description: null, fork: false, url: u,
      archive_url: `${u}/{archive_format}{/ref}`, assignees_url: `${u}/assignees{/user}`, blobs_url: `${u}/git/blobs{/sha}`,
      branches_url: `${u}/branches{/branch}`, collaborators_url: `${u}/collaborators{/collaborator}`, comments_url: `${u}/comments{/number}`,
      commits_url: `${u}/commits{/sha}`, compare_url: `${u}/compare/{base}...{head}`, contents_url: `${u}/contents/{+path}`,
      contributors_url: `${u}/contributors`, deployments_url: `${u}/deployments`, downloads_url: `${u}/downloads`, events_url: `${u}/events`,
      forks_url: `${u}/forks`, git_commits_url: `${u}/git/commits{/sha}`, git_refs_url: `${u}/git/refs{/sha}`, git_tags_url: `${u}/git/tags{/sha}`,
      git_url: `git://github.com/${r.fullName}.git`, issue_comment_url: `${u}/issues/comments{/number}`, issue_events_url: `${u}/issues/events{/number}`,
      issues_url: `${u}/issues{/number}`, keys_url: `${u}/keys{/key_id}`, labels_url: `${u}/labels{/name}`, languages_url: `${u}/languages`,
      merges_url: `${u}/merges`, milestones_url: `${u}/milestones{/number}`, notifications_url: `${u}/notifications{?since,all,participating}`,
      pulls_url: `${u}/pulls{/number}`, releases_url: `${u}/releases{/id}`, ssh_url: `git@github.com:${r.fullName}.git`,
      stargazers_url: `${u}/stargazers`, statuses_url: `${u}/statuses/{sha}`, subscribers_url: `${u}/subscribers`, subscription_url: `${u}/subscription`,
      tags_url: `${u}/tags`, teams_url: `${u}/teams`, trees_url: `${u}/git/trees{/sha}`, clone_url: `${HTML}/${r.fullName}.git`,
      mirror_url: null, hooks_url: `${u}/hooks`, svn_url: `${HTML}/${r.fullName}`, homepage: null, language: null,
      forks_count: 0, stargazers_count: 0, watchers_count: 0, size: 1024, default_branch: 'main', open_issues_count: 0, is_template: false,
      topics: [], has_issues: true, has_projects: true, has_wiki: false, has_pages: false, has_downloads: true, has_discussions: false,
      archived: false, disabled: false, visibility: 'private', pushed_at: this.iso(0), created_at: this.iso(r.createdAtMs), updated_at: this.iso(0),
      permissions: { admin: true, maintain: true, push: true, triage: true, pull: true },
      allow_forking: false, web_commit_signoff_required: false, forks: 0, open_issues: 0, watchers: 0,
    };
  }

  /** `full-repository` (GET /repos/{owner}/{repo}). */
  fullRepo(r: Repo): Record<string, unknown> {
    const org = r.owner.type === 'Organization' ? { organization: this.user(r.owner) } : {};
    return {
      ...this.minimalRepo(r), ...org, license: null, network_count: 0, subscribers_count: 1, temp_clone_token: null,
      allow_squash_merge: true, allow_merge_commit: true, allow_rebase_merge: true, allow_auto_merge: false, delete_branch_on_merge: false,
      allow_update_branch: false, use_squash_pr_title_as_default: false, squash_merge_commit_title: 'COMMIT_OR_PR_TITLE',
      squash_merge_commit_message: 'COMMIT_MESSAGES', merge_commit_title: 'MERGE_MESSAGE', merge_commit_message: 'PR_TITLE',
      custom_properties: {},
    };
  }

  /** A run as listed (status, conclusion and updated_at from its lagged jobs). */
  run(listed: ListedRun): Record<string, unknown> {
    const { run, status, conclusion } = listed;
    const u = `${this.api}/repos/${run.repo.fullName}/actions/runs/${run.id}`;
    const file = `${run.workflow.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'workflow'}.yml`;
    const actor = this.user(run.repo.owner);
    const repo = this.minimalRepo(run.repo);
    return {
      id: run.id, name: run.workflow, node_id: nodeId('WorkflowRun', run.id), head_branch: 'main', head_sha: run.headSha,
      path: `.github/workflows/${file}`, display_title: `${run.workflow} #${run.runNumber}`, run_number: run.runNumber, event: 'push',
      status, conclusion, workflow_id: run.workflowId, check_suite_id: run.checkSuiteId, check_suite_node_id: nodeId('CheckSuite', run.checkSuiteId),
      url: u, html_url: `${HTML}/${run.repo.fullName}/actions/runs/${run.id}`, pull_requests: [],
      created_at: this.iso(run.createdAtMs), updated_at: this.iso(listed.updatedAtMs), actor, run_attempt: 1, referenced_workflows: [],
      run_started_at: this.iso(run.startedAtMs), triggering_actor: actor, jobs_url: `${u}/jobs`, logs_url: `${u}/logs`,
      check_suite_url: `${this.api}/repos/${run.repo.fullName}/check-suites/${run.checkSuiteId}`, artifacts_url: `${u}/artifacts`,
      cancel_url: `${u}/cancel`, rerun_url: `${u}/rerun`, previous_attempt_url: null,
      workflow_url: `${this.api}/repos/${run.repo.fullName}/actions/workflows/${run.workflowId}`,
      head_commit: {
        id: run.headSha, tree_id: run.headSha.split('').reverse().join(''), message: `Change ${run.runNumber}`, timestamp: this.iso(run.createdAtMs),
        author: { name: 'Dev', email: 'dev@example.com' }, committer: { name: 'GitHub', email: 'noreply@github.com' },
      },
      repository: repo, head_repository: repo,
    };
  }

  job(job: Job): Record<string, unknown> {
    const r = job.run.repo;
    const started = job.startedAtMs ?? job.createdAtMs; // GitHub reports started_at = created_at while queued
    const steps = job.status === 'queued' || job.conclusion === 'skipped' ? [] : [{
      name: 'Set up job', status: job.status, conclusion: job.status === 'completed' ? job.conclusion : null, number: 1,
      started_at: this.iso(started), completed_at: job.completedAtMs !== undefined ? this.iso(job.completedAtMs) : null,
    }];
    return {
      id: job.id, run_id: job.run.id, workflow_name: job.run.workflow, head_branch: 'main', run_url: `${this.api}/repos/${r.fullName}/actions/runs/${job.run.id}`,
      run_attempt: 1, node_id: nodeId('CheckRun', job.id), head_sha: job.run.headSha, url: `${this.api}/repos/${r.fullName}/actions/jobs/${job.id}`,
      html_url: `${HTML}/${r.fullName}/actions/runs/${job.run.id}/job/${job.id}`, status: job.status, conclusion: job.conclusion,
      created_at: this.iso(job.createdAtMs), started_at: this.iso(started), completed_at: job.completedAtMs !== undefined ? this.iso(job.completedAtMs) : null,
      name: job.name, steps, check_run_url: `${this.api}/repos/${r.fullName}/check-runs/${job.id}`, labels: [...job.spec.labels],
      runner_id: job.runner?.id ?? null, runner_name: job.runner?.name ?? null,
      runner_group_id: job.runner?.group.id ?? null, runner_group_name: job.runner?.group.name ?? null,
    };
  }

  runner(r: Runner): Record<string, unknown> {
    return {
      id: r.id, name: r.name, os: r.os, status: r.status, busy: r.busy, ephemeral: r.ephemeral, runner_group_id: r.group.id,
      labels: r.labels.map((name) => ({ id: this.world.labelId(name), name, type: labelType(name) })), version: r.version,
    };
  }

  runnerGroup(org: string, g: RunnerGroup): Record<string, unknown> {
    const u = `${this.api}/orgs/${org}/actions/runner-groups/${g.id}`;
    return {
      id: g.id, name: g.name, visibility: 'all', default: g.isDefault, runners_url: `${u}/runners`, hosted_runners_url: `${u}/hosted-runners`,
      inherited: false, allows_public_repositories: false, restricted_to_workflows: false, selected_workflows: [], workflow_restrictions_read_only: false,
    };
  }
}
