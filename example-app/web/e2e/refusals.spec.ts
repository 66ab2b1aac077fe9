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

  await test.step('a good image afterwards goes through', async () => {
    await title.fill('Now a real one');
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
