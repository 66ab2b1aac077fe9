/**
 * What the upload form refuses before it creates anything: a text file named .png, an 11 MiB
 * image, an empty title. Each gets a clear message next to its field, no image record is created
 * (no POST leaves the page, and the API lists no image), and a good file afterwards still works.
 * The group form checks its fields against schemas/new-group.json's limits the same way.
 */
import { gradientPng, PNG_SIGNATURE } from './support/png';
import { accessToken, createGroup, expect, listImages, signedInPage, test, unique } from './support/app';

test('bad uploads get a clear message and store nothing', async ({ browser, udagram }) => {
  const page = await signedInPage(browser, udagram.url, 'carol');
  const groupId = await createGroup(page.request, udagram.url, await accessToken(page), `Refusals ${unique('g')}`);
  await page.goto(`${udagram.url}/groups/${groupId}`);
  await expect(page.getByRole('heading', { name: 'Add an image' })).toBeVisible();

  const writes: string[] = [];
  page.on('request', (request) => {
    if (request.method() !== 'GET') writes.push(`${request.method()} ${request.url()}`);
  });
  const title = page.getByLabel('Title', { exact: true });
  const file = page.locator('input[type=file]');
  const upload = page.getByRole('button', { name: 'Upload' });

  await test.step('a text file named .png', async () => {
    await title.fill('Not really a picture');
    await file.setInputFiles({
      name: 'notes.png',
      mimeType: 'image/png',
      buffer: Buffer.from('hello, this is text\n'.repeat(20)),
    });
    await upload.click();
    await expect(page.getByText('“notes.png” is not a PNG, JPEG, GIF or WebP image.')).toBeVisible();
    await expect(file).toHaveAttribute('aria-invalid', 'true');
  });

  await test.step('an 11 MiB image', async () => {
    // A PNG signature, then 11 MiB: refused on its size before anything is sent.
    const big = Buffer.concat([PNG_SIGNATURE, Buffer.alloc(11 * 1024 * 1024)]);
    await file.setInputFiles({ name: 'huge.png', mimeType: 'image/png', buffer: big });
    await upload.click();
    await expect(page.getByText('“huge.png” is 11.0 MB; images can be at most 10.0 MB.')).toBeVisible();
  });

  await test.step('an empty title', async () => {
    await title.fill('   ');
    await file.setInputFiles({
      name: 'fine.png',
      mimeType: 'image/png',
      buffer: gradientPng(64, 64, [0, 0, 0], [255, 255, 255]),
    });
    await upload.click();
    await expect(page.getByText('Give the image a title.')).toBeVisible();
    await expect(title).toHaveAttribute('aria-invalid', 'true');
    await expect(title).toBeFocused();
  });

  expect(writes, 'no request that writes left the page').toEqual([]);
  expect(await listImages(page.request, udagram.url, groupId)).toEqual([]);
  await expect(page.locator('[data-image-id]')).toHaveCount(0);

  await test.step('a good image dropped on the drop zone afterwards goes through', async () => {
    await title.fill('Now a real one');
    // Drag and drop, as a person would from their file manager.
    const png = gradientPng(96, 64, [16, 185, 129], [59, 130, 246]).toString('base64');
    const dataTransfer = await page.evaluateHandle((base64) => {
      const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], 'dropped.png', { type: 'image/png' }));
      return transfer;
    }, png);
    const zone = page.locator('.dropzone');
    await zone.dispatchEvent('dragover', { dataTransfer });
    await zone.dispatchEvent('drop', { dataTransfer });
    await expect(page.getByText('dropped.png')).toBeVisible();
    await expect(page.locator('.field-error')).toHaveCount(0);
    await upload.click();
    await expect(page.locator('[data-image-id]', { hasText: 'Now a real one' })).toHaveAttribute(
      'data-status',
      'ready',
    );
    expect((await listImages(page.request, udagram.url, groupId)).map((image) => image.title)).toEqual([
      'Now a real one',
    ]);
  });
  await page.context().close();
});

test('the group form checks each field and stores nothing it refuses', async ({ browser, udagram }) => {
  const page = await signedInPage(browser, udagram.url, 'carol');
  const before = await (await page.request.get(`${udagram.url}/groups?limit=100`)).json();
  await page.getByRole('button', { name: 'New group' }).click();
  const name = page.getByLabel('Name');
  const create = page.getByRole('button', { name: 'Create group' });

  await create.click();
  await expect(page.getByText('Give the group a name.')).toBeVisible();
  await expect(name).toBeFocused();

  await name.fill('x'.repeat(101));
  await page.getByLabel('Description').fill('y'.repeat(1001));
  await create.click();
  await expect(page.getByText('The name can be at most 100 characters (it has 101).')).toBeVisible();
  await expect(page.getByText('The description can be at most 1000 characters (it has 1001).')).toBeVisible();

  expect(await (await page.request.get(`${udagram.url}/groups?limit=100`)).json()).toEqual(before);
  await page.context().close();
});

test('the server’s refusals are shown in words', async ({ page, udagram }) => {
  await page.goto(`${udagram.url}/groups/0b6f7c9e-3d1a-4f5e-9c2b-8a7d6e5f4c3b`);
  await expect(page.getByRole('alert')).toHaveText('There is no such group. Its link may be mistyped.');
  await page.goto(`${udagram.url}/images/0b6f7c9e-3d1a-4f5e-9c2b-8a7d6e5f4c3b`);
  await expect(page.getByRole('alert')).toHaveText('There is no such image. Its link may be mistyped.');
  // A query longer than the API takes (the search box stops at 200; a typed URL does not).
  await page.goto(`${udagram.url}/search?q=${'x'.repeat(201)}`);
  const refused = await page.request.get(`${udagram.url}/images?q=${'x'.repeat(201)}`);
  expect(refused.status()).toBe(400);
  const detail = ((await refused.json()) as { detail: string }).detail;
  await expect(page.getByRole('alert')).toHaveText(detail);
});

test('a group can be created from the keyboard alone', async ({ browser, udagram }) => {
  const page = await signedInPage(browser, udagram.url, 'kim');
  const name = `Keyboard ${unique('g')}`;
  const newGroup = page.getByRole('button', { name: 'New group' });
  for (let i = 0; i < 10 && !(await newGroup.evaluate((element) => element === document.activeElement)); i += 1) {
    await page.keyboard.press('Tab');
  }
  await expect(newGroup).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByLabel('Name')).toBeFocused();
  await page.keyboard.type(name);
  await page.keyboard.press('Tab');
  await page.keyboard.type('Made without a mouse.');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Create group' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
  await page.context().close();
});

test('an upload cut off by the network says so instead of spinning', async ({ browser, udagram }) => {
  const page = await signedInPage(browser, udagram.url, 'lee');
  const groupId = await createGroup(page.request, udagram.url, await accessToken(page), `Cut off ${unique('g')}`);
  await page.goto(`${udagram.url}/groups/${groupId}`);
  // The connection drops while the bytes are on their way.
  await page.route('**/uploads', (route) => route.abort('connectionreset'));
  await page.getByLabel('Title', { exact: true }).fill('Lost on the way');
  await page.locator('input[type=file]').setInputFiles({
    name: 'lost.png',
    mimeType: 'image/png',
    buffer: gradientPng(64, 64, [0, 0, 0], [255, 255, 255]),
  });
  await page.getByRole('button', { name: 'Upload' }).click();
  await expect(page.getByRole('alert')).toHaveText('Cannot reach Udagram. Check your connection and try again.');
  const card = page.locator('[data-image-id]', { hasText: 'Lost on the way' });
  await expect(card).toHaveAttribute('data-status', 'failed');
  await expect(card).toContainText('Upload failed');
  await expect(page.getByRole('button', { name: 'Upload' })).toBeEnabled();
  await page.context().close();
});
