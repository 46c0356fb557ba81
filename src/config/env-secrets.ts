/**
 * Secrets from the environment: the variable itself, then `<VARIABLE>_FILE` (a path), then systemd's
 * `$CREDENTIALS_DIRECTORY/<credential name>` (`LoadCredential=github_token:/etc/…`).
 */
import { join } from 'node:path';
import type { EnvReader } from './env-reader.js';
import { describeFsError, fsFix, MAX_SECRET_BYTES } from './fs.js';
import { Secret } from './secret.js';

export const SECRET_VARIABLES = ['PROXMOX_TOKEN_SECRET', 'GITHUB_TOKEN', 'GITHUB_APP_PRIVATE_KEY', 'WEBHOOK_SECRET', 'SFTP_PRIVATE_KEY'] as const;
export type SecretVariable = (typeof SECRET_VARIABLES)[number];

/** File names looked up in `$CREDENTIALS_DIRECTORY`; lower-case, as systemd's own examples name credentials. */
export const CREDENTIAL_NAMES: Readonly<Record<SecretVariable, string>> = Object.freeze({
  PROXMOX_TOKEN_SECRET: 'proxmox_token_secret',
  GITHUB_TOKEN: 'github_token',
  GITHUB_APP_PRIVATE_KEY: 'github_app_private_key',
  WEBHOOK_SECRET: 'webhook_secret',
  SFTP_PRIVATE_KEY: 'sftp_private_key',
});

export function secretHowTo(name: SecretVariable): string {
  return `set ${name}, or ${name}_FILE to a file holding it, or provide the systemd credential ${CREDENTIAL_NAMES[name]} (LoadCredential=${CREDENTIAL_NAMES[name]}:<path>)`;
}

/**
 * A secret from NAME, NAME_FILE or $CREDENTIALS_DIRECTORY/<credential>, first found wins.
 * Files lose their trailing newlines (editors and `echo` add one); the value is never quoted back.
 */
export function readSecret(r: EnvReader, name: SecretVariable): Secret | undefined {
  const direct = r.raw(name);
  if (direct !== undefined) return new Secret(direct, name);
  const fileVar = `${name}_FILE`;
  const file = r.raw(fileVar);
  if (file !== undefined) return secretFile(r, r.path(file), `${fileVar}=${file}`, fileVar, name, fileVar);
  const credDir = r.raw('CREDENTIALS_DIRECTORY');
  if (credDir !== undefined) {
    const path = join(credDir, CREDENTIAL_NAMES[name]);
    if (r.fs.exists(path)) return secretFile(r, path, `$CREDENTIALS_DIRECTORY/${CREDENTIAL_NAMES[name]}`, 'CREDENTIALS_DIRECTORY', name, `LoadCredential=${CREDENTIAL_NAMES[name]}:`);
  }
  return undefined;
}

function secretFile(r: EnvReader, path: string, source: string, variable: string, name: string, setting: string): Secret | undefined {
  let text: string;
  try {
    text = r.fs.readText(path, MAX_SECRET_BYTES);
  } catch (e) {
    r.problem(variable, `cannot read ${path} for ${name}: ${describeFsError(e)}`, fsFix(e, setting, `make ${path} readable by the daemon's user, or set ${name} another way`));
    return undefined;
  }
  const value = text.replace(/[\r\n]+$/, '');
  if (value.trim() === '') {
    r.problem(variable, `${path} is empty, so ${name} has no value`, `write the value of ${name} into ${path}`);
    return undefined;
  }
  return new Secret(value, source);
}
