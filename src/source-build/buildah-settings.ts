/**
 * Per-build settings files for buildah, written 0600 into a private temp dir: registries.conf
 * (TLS verification off only for configured registries that are plain HTTP or marked insecure)
 * and an auth file with the configured registries' credentials (never on the command line).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type RegistryConfig } from '../config';

export interface BuildahSettings {
  registriesConf: string;
  authFile: string;
}

const tomlString = (value: string) => JSON.stringify(value);

export function registryHost(url: string): string {
  return new URL(url).host;
}

export function registriesConf(registries: RegistryConfig[], searchRegistries: string[]): string {
  const lines = [`unqualified-search-registries = [${searchRegistries.map(tomlString).join(', ')}]`, 'short-name-mode = "permissive"', ''];
  for (const r of registries) {
    const insecure = r.insecure || new URL(r.url).protocol === 'http:';
    if (!insecure) continue;
    lines.push('[[registry]]', `location = ${tomlString(registryHost(r.url))}`, 'insecure = true', '');
  }
  return lines.join('\n');
}

/** containers-auth.json(5): `auth` is base64 of user:password; a token goes in `identitytoken`. */
export function authFile(registries: RegistryConfig[]): string {
  const auths: Record<string, Record<string, string>> = {};
  for (const r of registries) {
    const c = r.credentials;
    if (!c) continue;
    auths[registryHost(r.url)] = 'token' in c ? { identitytoken: c.token } : { auth: Buffer.from(`${c.username}:${c.password}`).toString('base64') };
  }
  return JSON.stringify({ auths });
}

export async function writeBuildahSettings(dir: string, registries: RegistryConfig[], searchRegistries: string[]): Promise<BuildahSettings> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const settings = { registriesConf: join(dir, 'registries.conf'), authFile: join(dir, 'auth.json') };
  await writeFile(settings.registriesConf, registriesConf(registries, searchRegistries), { mode: 0o600 });
  await writeFile(settings.authFile, authFile(registries), { mode: 0o600 });
  return settings;
}
