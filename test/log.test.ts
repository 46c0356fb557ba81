import { memoryLogger, Redactor } from '../src/log.js';

describe('logger', () => {
  it('under journald prefixes syslog priorities and adds no timestamp of its own', () => {
    const { log, lines } = memoryLogger({ journald: true, level: 'debug' });
    log.error('boom', { pool: 'p', vmid: 201 });
    log.warn('careful');
    log.info('fine', { runner: 'ubuntu-201-ab12', job: 7 });
    log.debug('detail');
    expect(lines).toEqual(['<3>boom pool=p vmid=201', '<4>careful', '<6>fine runner=ubuntu-201-ab12 job=7', '<7>detail']);
  });

  it('writes one JSON object per line with LOG_FORMAT=json', () => {
    const { log, lines } = memoryLogger({ format: 'json' });
    log.info('created', { pool: 'p', vmid: 5 });
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info', message: 'created', pool: 'p', vmid: 5 });
  });

  it('honours the level', () => {
    const { log, lines } = memoryLogger({ level: 'warn', journald: true });
    log.info('hidden');
    log.warn('shown');
    expect(lines).toEqual(['<4>shown']);
  });

  it('redacts known secrets and token-shaped strings in messages and fields', () => {
    const secrets = new Redactor();
    secrets.add('eyJhbGciOiJIUzI1NiJ9-jit-config-value');
    const { log, lines } = memoryLogger({ journald: true, secrets });
    log.warn('failed with eyJhbGciOiJIUzI1NiJ9-jit-config-value inside', { detail: 'token ghs_16C7e42F292c6912E7710c838347Ae178B4a' });
    log.info('PVEAPIToken=pve-runners@pve!ci=0b6c2f4e-5d1a-4c3b-9e8f-7a6b5c4d3e2f');
    expect(lines.join('\n')).not.toMatch(/jit-config-value|ghs_16C7|0b6c2f4e/);
    expect(lines[1]).toBe('<6>PVEAPIToken=pve-runners@pve!ci=[REDACTED]');
  });
});
