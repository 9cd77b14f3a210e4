import { describe, expect, it } from 'vitest';
import type { ConfigIssue } from '../../src/config/errors.js';
import { DEFAULT_REDACT, RECORDER_DEFAULTS, validateRecorder } from '../../src/recorder/config.js';

function validate(value: unknown) {
  const issues: ConfigIssue[] = [];
  const result = validateRecorder(value, issues);
  return { result, issues };
}

describe('validateRecorder', () => {
  it('is off when absent or false', () => {
    expect(validate(undefined)).toEqual({ result: undefined, issues: [] });
    expect(validate(false)).toEqual({ result: undefined, issues: [] });
  });

  it('fills in the documented defaults', () => {
    const { result, issues } = validate({ path: '/tmp/rec.jsonl' });
    expect(issues).toEqual([]);
    expect(result).toEqual({
      path: '/tmp/rec.jsonl',
      sampleRate: 0.01,
      include: [],
      exclude: [],
      methods: undefined,
      withResponse: false,
      maxBodyBytes: 64 * 1024,
      maxFileBytes: 64 * 1024 * 1024,
      maxFiles: 5,
      maxQueueLines: 10_000,
      maxQueueBytes: 32 * 1024 * 1024,
      redact: {
        headers: [...DEFAULT_REDACT.headers],
        query: [...DEFAULT_REDACT.query],
        fields: [...DEFAULT_REDACT.fields],
        paths: [],
      },
      redactUnknownBodies: false,
    });
    expect(RECORDER_DEFAULTS.sampleRate).toBe(0.01);
  });

  it('redacts the credential headers the issue names by default', () => {
    for (const name of ['authorization', 'cookie', 'set-cookie', 'proxy-authorization', 'x-api-key'])
      expect(DEFAULT_REDACT.headers).toContain(name);
    for (const name of ['password', 'token']) expect(DEFAULT_REDACT.fields).toContain(name);
  });

  it('merges configured names with the defaults and splits names from JSON paths', () => {
    const { result, issues } = validate({
      path: 'rec.jsonl',
      sampleRate: 1,
      methods: ['get', 'POST'],
      include: ['/api/**'],
      exclude: ['/api/health'],
      withResponse: true,
      redact: { headers: ['X-Session'], query: ['sessionKey'], fields: ['pin', '$.card.number', '$..pan'] },
    });
    expect(issues).toEqual([]);
    expect(result!.methods).toEqual(['GET', 'POST']);
    expect(result!.redact.headers).toContain('x-session');
    expect(result!.redact.headers).toContain('authorization');
    expect(result!.redact.query).toContain('sessionKey');
    expect(result!.redact.query).toContain('token');
    expect(result!.redact.fields).toContain('pin');
    expect(result!.redact.fields).toContain('password');
    expect(result!.redact.paths).toEqual(['$.card.number', '$..pan']);
  });

  it('names the path and the rule of every problem', () => {
    const { result, issues } = validate({
      sampleRate: 1.5,
      include: ['api'],
      methods: [],
      withResponse: 'yes',
      maxFiles: 0,
      maxBodyBytes: 1.5,
      redact: { headers: ['bad header'], fields: ['$.a[', '$.items[id=1].x'], cookies: [] },
      extra: 1,
    });
    expect(result).toBeUndefined();
    const paths = issues.map((i) => `${i.path}: ${i.message}`);
    expect(paths).toEqual(
      expect.arrayContaining([
        'recorder.extra: unknown option',
        'recorder.path: must be a file path, got undefined',
        'recorder.sampleRate: must be a number between 0 and 1, got number 1.5',
        'recorder.include[0]: must start with /',
        'recorder.methods: must not be empty',
        'recorder.withResponse: must be a boolean, got string "yes"',
        'recorder.maxFiles: must be a whole number between 1 and 1000',
        'recorder.redact.cookies: unknown option',
        'recorder.redact.headers[0]: must be a header name',
        'recorder.redact.fields[1]: keyed selectors ([field=value]) are not supported in redaction paths',
      ]),
    );
    expect(paths.some((p) => p.startsWith('recorder.maxBodyBytes: must be a whole number'))).toBe(true);
    expect(paths.some((p) => p.startsWith('recorder.redact.fields[0]: invalid JSON path:'))).toBe(true);
  });

  it('rejects a queue too small for one record', () => {
    const { issues } = validate({ path: 'r.jsonl', maxBodyBytes: 1000, maxQueueBytes: 2000 });
    expect(issues).toEqual([
      {
        path: 'recorder.maxQueueBytes',
        message: 'must be at least 3 × maxBodyBytes (3000) so that one record fits',
      },
    ]);
  });

  it('rejects a non-object', () => {
    expect(validate('rec.jsonl').issues).toEqual([
      { path: 'recorder', message: 'must be an object { path, … } or false, got string "rec.jsonl"' },
    ]);
  });
});
