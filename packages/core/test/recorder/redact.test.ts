import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { ConfigIssue } from '../../src/config/errors.js';
import { type RecorderConfig, validateRecorder } from '../../src/recorder/config.js';
import { REDACTED, Redactor } from '../../src/recorder/redact.js';
import { bodyKind } from '../../src/recorder/redact-body.js';
import { redactPairs, redactUrl } from '../../src/recorder/redact-pairs.js';

function redactor(extra: Partial<RecorderConfig> = {}): Redactor {
  const issues: ConfigIssue[] = [];
  const config = validateRecorder({ path: 'r.jsonl', ...extra }, issues);
  expect(issues).toEqual([]);
  return new Redactor(config!);
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' };

describe('headers', () => {
  const r = redactor({ redact: { headers: ['X-Session'] } });

  it('replaces the default and configured names, case-insensitively, every value of a repeated one', () => {
    const out = r.headers({
      Authorization: 'Bearer abc',
      cookie: 'sid=1',
      'set-cookie': ['a=1', 'b=2'],
      'proxy-authorization': 'Basic x',
      'X-API-Key': 'k',
      'x-session': 's',
      accept: 'application/json',
      'content-length': 12 as unknown as string,
      'x-missing': undefined,
    });
    expect(out).toEqual({
      Authorization: REDACTED,
      cookie: REDACTED,
      'set-cookie': [REDACTED, REDACTED],
      'proxy-authorization': REDACTED,
      'X-API-Key': REDACTED,
      'x-session': REDACTED,
      accept: 'application/json',
      'content-length': '12',
    });
  });
});

describe('query strings', () => {
  const names = new Set(['token', 'accesstoken', 'password']);

  it('redacts listed values and keeps everything else byte-for-byte', () => {
    expect(redactPairs('a=1&token=abc&b=%20x+y&&c', names)).toBe(`a=1&token=${REDACTED}&b=%20x+y&&c`);
    expect(redactPairs('a=1&b=2', names)).toBe('a=1&b=2');
  });

  it('matches names loosely, percent-decoded, and inside bracket or dot notation', () => {
    expect(redactPairs('Access-Token=1&accessToken=2&ACCESS_TOKEN=3', names)).toBe(
      `Access-Token=${REDACTED}&accessToken=${REDACTED}&ACCESS_TOKEN=${REDACTED}`,
    );
    expect(redactPairs('%74oken=1&user%5Bpassword%5D=2&user.password=3&tokens=4', names)).toBe(
      `%74oken=${REDACTED}&user%5Bpassword%5D=${REDACTED}&user.password=${REDACTED}&tokens=4`,
    );
    expect(redactPairs('to%ZZken=1', names)).toBe('to%ZZken=1');
  });

  it('redacts URLs: query, fragment and userinfo, never the path', () => {
    expect(redactUrl('/a/token/b?x=1&token=s3cr3t#frag', names)).toBe(
      `/a/token/b?x=1&token=${REDACTED}#frag`,
    );
    expect(redactUrl('/cb#access_token=s3cr3t&state=1', names)).toBe(`/cb#access_token=${REDACTED}&state=1`);
    expect(redactUrl('http://bob:hunter2@example.com/x?password=p', names)).toBe(
      `http://${REDACTED}@example.com/x?password=${REDACTED}`,
    );
    expect(redactUrl('/plain', names)).toBe('/plain');
  });

  it('uses the default query list through the Redactor', () => {
    const r = redactor({ redact: { query: ['sessionKey'] } });
    expect(r.url('/x?api_key=1&sessionkey=2&X-Amz-Signature=3&page=2')).toBe(
      `/x?api_key=${REDACTED}&sessionkey=${REDACTED}&X-Amz-Signature=${REDACTED}&page=2`,
    );
  });
});

describe('JSON bodies', () => {
  const r = redactor({ redact: { fields: ['pin', '$.card.number', '$.items[*].serial', '$..pan'] } });
  const redact = (value: unknown, headers: Record<string, string> = JSON_HEADERS) =>
    JSON.parse(r.body(json(value), headers).toString());

  it('redacts listed names at any depth, whole values included, and listed paths', () => {
    expect(
      redact({
        user: { name: 'ann', password: 'p', profile: { accessToken: 't', pin: 1234 } },
        token: { nested: 'all of it goes' },
        card: { number: '4111111111111111', expiry: '12/30' },
        number: 'not a card',
        items: [{ serial: 'S1', name: 'a' }, { serial: 'S2' }],
        deep: [[{ pan: '5500' }]],
      }),
    ).toEqual({
      user: { name: 'ann', password: REDACTED, profile: { accessToken: REDACTED, pin: REDACTED } },
      token: REDACTED,
      card: { number: REDACTED, expiry: '12/30' },
      number: 'not a card',
      items: [{ serial: REDACTED, name: 'a' }, { serial: REDACTED }],
      deep: [[{ pan: REDACTED }]],
    });
  });

  it('keeps an untouched body byte-for-byte (no re-serialization)', () => {
    const body = Buffer.from('{ "a" : 1.0, "big": 12345678901234567890 }');
    expect(r.body(body, JSON_HEADERS)).toBe(body);
  });

  it('handles +json types, a BOM, top-level arrays and ndjson', () => {
    expect(redact([{ password: 'x' }], { 'content-type': 'application/vnd.api+json' })).toEqual([
      { password: REDACTED },
    ]);
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json({ token: 'x' })]);
    expect(JSON.parse(r.body(bom, JSON_HEADERS).toString())).toEqual({ token: REDACTED });
    const nd = Buffer.from('{"token":"a"}\n{"ok":1}\n\n{"password":"b"}\n');
    expect(r.body(nd, { 'content-type': 'application/x-ndjson' }).toString()).toBe(
      `{"token":"${REDACTED}"}\n{"ok":1}\n\n{"password":"${REDACTED}"}\n`,
    );
  });

  it('never sets the prototype through a __proto__ field', () => {
    const r2 = redactor({ redact: { fields: ['__proto__'] } });
    const out = r2.body(Buffer.from('{"__proto__":{"polluted":true},"a":1}'), JSON_HEADERS).toString();
    expect(JSON.parse(out)).toEqual(JSON.parse(`{"__proto__":"${REDACTED}","a":1}`));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('replaces a declared-JSON body it cannot parse (malformed or truncated) with the marker', () => {
    expect(r.body(Buffer.from('{"password":"hunter2","a":'), JSON_HEADERS).toString()).toBe(REDACTED);
    expect(r.body(Buffer.from('not json password=hunter2'), JSON_HEADERS).toString()).toBe(REDACTED);
    expect(
      r.body(Buffer.from('{"ok":1}\n{"token":"x'), { 'content-type': 'application/x-ndjson' }).toString(),
    ).toBe(REDACTED);
  });

  it('sniffs JSON sent without a JSON content type', () => {
    expect(redact({ password: 'p' }, {})).toEqual({ password: REDACTED });
    expect(redact({ password: 'p' }, { 'content-type': 'text/plain' })).toEqual({ password: REDACTED });
    // Looks like JSON, is not: not shown.
    expect(r.body(Buffer.from('  {password: hunter2'), {}).toString()).toBe(REDACTED);
  });

  it('the root path redacts the whole body', () => {
    const all = redactor({ redact: { fields: ['$'] } });
    expect(all.body(json({ a: 1 }), JSON_HEADERS).toString()).toBe(JSON.stringify(REDACTED));
  });

  it('survives a body nested far deeper than the stack: the walk is iterative, the unserializable result is replaced', () => {
    const depth = 200_000;
    const deep = Buffer.from(`${'['.repeat(depth)}{"password":"x"}${']'.repeat(depth)}`);
    // JSON.parse copes; JSON.stringify of the redacted value overflows, so the whole body becomes the marker.
    expect(r.body(deep, JSON_HEADERS).toString()).toBe(REDACTED);
    const shallow = Buffer.from(`${'['.repeat(2000)}{"password":"x"}${']'.repeat(2000)}`);
    expect(r.body(shallow, JSON_HEADERS).toString()).toBe(
      `${'['.repeat(2000)}{"password":"${REDACTED}"}${']'.repeat(2000)}`,
    );
  });
});

describe('compressed JSON bodies', () => {
  const r = redactor();

  it.each([
    ['gzip', zlib.gzipSync, zlib.gunzipSync],
    ['deflate', zlib.deflateSync, zlib.inflateSync],
    ['br', zlib.brotliCompressSync, zlib.brotliDecompressSync],
  ] as const)('decodes %s, redacts, and compresses again', (coding, encode, decode) => {
    const body = encode(json({ access_token: 'tok', user: 'ann' }));
    const out = r.body(body, { ...JSON_HEADERS, 'content-encoding': coding });
    expect(JSON.parse(decode(out).toString())).toEqual({ access_token: REDACTED, user: 'ann' });
  });

  it('keeps unchanged compressed bytes as they were', () => {
    const body = zlib.gzipSync(json({ user: 'ann' }));
    expect(r.body(body, { ...JSON_HEADERS, 'content-encoding': 'gzip' })).toBe(body);
  });

  it('reads bytes already decompressed despite the header (capture after a compression middleware)', () => {
    const out = r.body(json({ token: 't' }), { ...JSON_HEADERS, 'content-encoding': 'gzip' });
    expect(JSON.parse(out.toString())).toEqual({ token: REDACTED });
  });

  it('replaces what it cannot decode: truncated, stacked or unknown codings', () => {
    const gz = zlib.gzipSync(json({ token: 'secret-value', pad: 'x'.repeat(1000) }));
    const cut = gz.subarray(0, gz.length - 20);
    expect(r.body(cut, { ...JSON_HEADERS, 'content-encoding': 'gzip' }).toString()).toBe(REDACTED);
    expect(r.body(gz, { ...JSON_HEADERS, 'content-encoding': 'gzip, br' }).toString()).toBe(REDACTED);
    expect(r.body(gz, { ...JSON_HEADERS, 'content-encoding': 'compress' }).toString()).toBe(REDACTED);
    const form = zlib.gzipSync(Buffer.from('password=x'));
    expect(
      r
        .body(form.subarray(0, 5), {
          'content-type': 'application/x-www-form-urlencoded',
          'content-encoding': 'gzip',
        })
        .toString(),
    ).toBe(REDACTED);
  });
});

describe('form bodies', () => {
  const r = redactor({ redact: { fields: ['pin'], query: ['otp_code'] } });
  const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

  it('redacts listed fields (field and query names) and keeps the rest byte-for-byte', () => {
    const body = Buffer.from('user=ann&password=hunter2&pin=1234&otp_code=99&note=caf%C3%A9+ol%C3%A9');
    expect(r.body(body, FORM).toString()).toBe(
      `user=ann&password=${REDACTED}&pin=${REDACTED}&otp_code=${REDACTED}&note=caf%C3%A9+ol%C3%A9`,
    );
  });

  it('keeps raw non-ASCII bytes exactly', () => {
    const body = Buffer.concat([Buffer.from('a='), Buffer.from([0xe9, 0xff]), Buffer.from('&token=1')]);
    const out = r.body(body, FORM);
    expect(out.subarray(0, 4)).toEqual(body.subarray(0, 4));
    expect(out.subarray(4).toString()).toBe(`&token=${REDACTED}`);
  });
});

describe('other bodies', () => {
  const multipart = Buffer.from('--b\r\nContent-Disposition: form-data; name="f"\r\n\r\nbytes\r\n--b--\r\n');
  const MULTIPART = { 'content-type': 'multipart/form-data; boundary=b' };

  it('are kept as is by default', () => {
    expect(redactor().body(multipart, MULTIPART)).toBe(multipart);
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
    expect(redactor().body(png, { 'content-type': 'image/png' })).toBe(png);
  });

  it('become the marker with redactUnknownBodies', () => {
    expect(redactor({ redactUnknownBodies: true }).body(multipart, MULTIPART).toString()).toBe(REDACTED);
  });

  it('an empty body stays empty', () => {
    expect(redactor().body(Buffer.alloc(0), JSON_HEADERS).length).toBe(0);
  });
});

describe('bodyKind', () => {
  it('classifies content types', () => {
    expect(bodyKind('Application/JSON; charset=utf-8')).toBe('json');
    expect(bodyKind('application/problem+json')).toBe('json');
    expect(bodyKind(['application/x-www-form-urlencoded'])).toBe('form');
    expect(bodyKind('application/jsonl')).toBe('ndjson');
    expect(bodyKind('text/html')).toBe('other');
    expect(bodyKind(undefined)).toBe('other');
  });
});
