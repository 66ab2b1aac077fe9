/** The client's pure rules, table by table (no browser). */
import { expect, test } from '@playwright/test';
import type { Image } from '../src/api';
import { parseConfig } from '../src/config';
import { mergeImages } from '../src/images';
import { backoffDelay } from '../src/live';
import { checkNewGroup, checkTitle, DESCRIPTION_MAX, NAME_MAX, TITLE_MAX } from '../src/rules';
import { sniffImageType } from '../src/sniff';

const bytes = (...values: (number | string)[]) =>
  Uint8Array.from(
    values.flatMap((value) => (typeof value === 'string' ? [...value].map((c) => c.charCodeAt(0)) : [value])),
  );

test('magic bytes decide the type, never the name', () => {
  const table: [Uint8Array, string | null][] = [
    [bytes(0x89, 'PNG', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0), 'image/png'],
    [bytes(0xff, 0xd8, 0xff, 0xe0), 'image/jpeg'],
    [bytes('GIF89a', 1, 0), 'image/gif'],
    [bytes('GIF87a', 1, 0), 'image/gif'],
    [bytes('RIFF', 0, 0, 0, 0, 'WEBPVP8 '), 'image/webp'],
    [bytes('RIFF', 0, 0, 0, 0, 'WAVEfmt '), null],
    [bytes(0x89, 'PNG', 0x0d, 0x0a), null],
    [bytes('hello, this is text'), null],
    [bytes('<svg xmlns="http://www.w3.org/2000/svg">'), null],
    [bytes(), null],
  ];
  for (const [input, type] of table) expect(sniffImageType(input), `${[...input]}`).toBe(type);
});

test('the limits come from the schema files and count code points', () => {
  expect([NAME_MAX, DESCRIPTION_MAX, TITLE_MAX]).toEqual([100, 1000, 200]);
  expect(checkNewGroup('  ', '')).toEqual({ name: 'Give the group a name.' });
  expect(checkNewGroup('😀'.repeat(100), '')).toEqual({});
  expect(checkNewGroup(' ' + 'x'.repeat(100) + ' ', '')).toEqual({});
  expect(checkNewGroup('x'.repeat(101), 'y'.repeat(1001))).toEqual({
    name: 'The name can be at most 100 characters (it has 101).',
    description: 'The description can be at most 1000 characters (it has 1001).',
  });
  expect(checkTitle(' \t ')).toBe('Give the image a title.');
  expect(checkTitle('é'.repeat(200))).toBeUndefined();
  expect(checkTitle('x'.repeat(201))).toBe('The title can be at most 200 characters (it has 201).');
});

test('reconnection delays grow, are jittered and stop at 10 s', () => {
  expect(backoffDelay(0, () => 1)).toBe(500);
  expect(backoffDelay(3, () => 1)).toBe(4000);
  expect(backoffDelay(5, () => 1)).toBe(10_000);
  expect(backoffDelay(50, () => 1)).toBe(10_000);
  expect(backoffDelay(4, () => 0.5)).toBe(4000);
  expect(backoffDelay(4, () => 0)).toBe(100);
});

test('merging keeps newest first and never turns a ready image back to pending', () => {
  const image = (imageId: string, timestamp: string, status: Image['status']): Image => ({
    imageId,
    groupId: 'g',
    userId: 'u',
    title: imageId,
    timestamp,
    status,
    imageUrl: `/files/${imageId}`,
    thumbnailUrl: status === 'ready' ? `/files/${imageId}.thumb.png` : undefined,
  });
  const current = [image('b', '2026-01-02T00:00:00.000Z', 'ready'), image('a', '2026-01-01T00:00:00.000Z', 'pending')];
  const merged = mergeImages(current, [
    image('c', '2026-01-03T00:00:00.000Z', 'ready'),
    image('b', '2026-01-02T00:00:00.000Z', 'pending'),
    image('a', '2026-01-01T00:00:00.000Z', 'ready'),
  ]);
  expect(merged.map((item) => `${item.imageId}:${item.status}`)).toEqual(['c:ready', 'b:ready', 'a:ready']);
});

test('config.json is checked, with a message that names the field', () => {
  const good = {
    apiUrl: 'https://api.example.com/prod/',
    webSocketUrl: 'wss://ws.example.com/prod',
    oidc: {
      authority: 'https://tenant.auth0.com/',
      clientId: 'abc',
      scope: 'openid offline_access',
      audience: 'udagram',
    },
  };
  expect(parseConfig(good)).toEqual({ ...good, apiUrl: 'https://api.example.com/prod' });
  expect(parseConfig({ ...good, oidc: { authority: good.oidc.authority, clientId: 'abc' } }).oidc).toEqual({
    authority: good.oidc.authority,
    clientId: 'abc',
    scope: 'openid profile offline_access',
    audience: undefined,
  });
  expect(() => parseConfig(null)).toThrow('config.json must hold a JSON object');
  expect(() => parseConfig({ ...good, apiUrl: '' })).toThrow('apiUrl must be a non-empty string');
  expect(() => parseConfig({ ...good, webSocketUrl: 'https://x' })).toThrow('webSocketUrl must start with ws: or wss:');
  expect(() => parseConfig({ ...good, oidc: {} })).toThrow('oidc.authority');
  expect(() => parseConfig({ ...good, oidc: { ...good.oidc, clientId: 3 } })).toThrow('oidc.clientId');
});
