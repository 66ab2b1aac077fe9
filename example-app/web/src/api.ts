/** The Udagram REST API (docs/src/example-app/overview.md), with its problem+json errors. */
import { type Auth, SignInRedirect } from './auth';
import type { ImageType } from './sniff';

/** A group of images. */
export interface Group {
  id: string;
  userId: string;
  name: string;
  description: string;
  timestamp: string;
}

/** An image record; `thumbnailUrl` appears once the upload is processed. */
export interface Image {
  imageId: string;
  groupId: string;
  userId: string;
  title: string;
  timestamp: string;
  status: 'pending' | 'ready';
  imageUrl: string;
  thumbnailUrl?: string;
}

/** One page of a list, and the key of the next one. */
export interface Page<T> {
  items: T[];
  nextKey?: string | null;
}

/** A refusal from the API (or no answer at all, with status 0). */
export class ApiError extends Error {
  constructor(
    /** The HTTP status, 0 when the server could not be reached. */
    readonly status: number,
    /** The problem's title. */
    readonly title: string,
    /** The problem's detail, meant for people. */
    readonly detail?: string,
  ) {
    super(detail ?? title);
    this.name = 'ApiError';
  }
}

/** A message for people from any failure. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 0) return 'Cannot reach Udagram. Check your connection and try again.';
    if (error.status === 404) return error.detail ?? 'Not found.';
    if (error.status >= 500) return 'Udagram had a problem answering. Please try again in a moment.';
    return error.detail ?? error.title;
  }
  if (error instanceof Error) return error.message;
  return 'Something went wrong.';
}

/** Reads a problem+json body (or anything else) into an [`ApiError`]. */
export function problem(status: number, statusText: string, body: string): ApiError {
  // S3 refuses a form post with an XML error document: its <Message> is the detail.
  const s3Message = /<Message>([^<]*)<\/Message>/.exec(body);
  if (s3Message) return new ApiError(status, statusText || `HTTP ${status}`, s3Message[1]);
  try {
    const parsed = JSON.parse(body) as { title?: unknown; detail?: unknown };
    const title = typeof parsed.title === 'string' ? parsed.title : statusText || `HTTP ${status}`;
    const detail = typeof parsed.detail === 'string' ? parsed.detail : undefined;
    return new ApiError(status, title, detail);
  } catch {
    return new ApiError(status, statusText || `HTTP ${status}`);
  }
}

function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** The API client: reads are anonymous, writes carry the user's access token. */
export class Api {
  constructor(
    private readonly baseUrl: string,
    private readonly auth: Auth,
  ) {}

  private async send<T>(method: string, path: string, body?: unknown, signed = false, retried = false): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    // Reads stay anonymous: a presented token must be valid, and a stale one must not break them.
    if (signed) headers.authorization = `Bearer ${await this.auth.accessToken()}`;
    let response: Response;
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, 'Network error');
    }
    const text = await response.text();
    if (response.status === 401 && signed) {
      // The token was refused (expired, revoked, signed with a rotated key): renew once, then
      // send the user through sign-in rather than showing a raw 401.
      if (!retried && (await this.auth.renew())) return this.send(method, path, body, signed, true);
      await this.auth.signIn();
      throw new SignInRedirect();
    }
    if (!response.ok) throw problem(response.status, response.statusText, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** `GET /groups`, newest first. */
  listGroups(limit: number, nextKey?: string | null): Promise<Page<Group>> {
    return this.send('GET', `/groups${query({ limit, nextKey })}`);
  }

  /** `GET /groups/{id}`. */
  getGroup(groupId: string): Promise<Group> {
    return this.send('GET', `/groups/${encodeURIComponent(groupId)}`);
  }

  /** `POST /groups`. */
  async createGroup(name: string, description: string): Promise<Group> {
    const answer = await this.send<{ newItem: Group }>('POST', '/groups', { name, description }, true);
    return answer.newItem;
  }

  /** `GET /groups/{id}/images`, newest first. */
  listImages(groupId: string, limit: number, nextKey?: string | null): Promise<Page<Image>> {
    return this.send('GET', `/groups/${encodeURIComponent(groupId)}/images${query({ limit, nextKey })}`);
  }

  /** `POST /groups/{id}/images`: the pending record and the form to post its bytes with. */
  createImage(groupId: string, title: string, contentType: ImageType): Promise<{ newItem: Image; upload: UploadForm }> {
    return this.send('POST', `/groups/${encodeURIComponent(groupId)}/images`, { title, contentType }, true);
  }

  /** `GET /images/{id}`. */
  getImage(imageId: string): Promise<Image> {
    return this.send('GET', `/images/${encodeURIComponent(imageId)}`);
  }

  /** `GET /images?q=`: best match first. */
  async search(text: string, limit = 50): Promise<Image[]> {
    const answer = await this.send<{ items: Image[] }>('GET', `/images${query({ q: text, limit })}`);
    return answer.items;
  }
}

/**
 * A signed upload form, S3's browser POST: the fields (the policy and its signature among them)
 * go first, the file last. S3 on AWS, and `udagram serve` locally, enforce the policy: the key,
 * the content type, 1 byte to the size limit, the expiry.
 */
export interface UploadForm {
  url: string;
  fields: Record<string, string>;
}

/**
 * Posts `file` with a signed upload form (`multipart/form-data`), reporting progress from 0 to 1.
 * XMLHttpRequest, because fetch has no upload progress events.
 */
export function uploadBytes(
  form: UploadForm,
  file: Blob,
  onProgress: (fraction: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  const body = new FormData();
  for (const [name, value] of Object.entries(form.fields)) body.append(name, value);
  // The form's Content-Type field is what S3 stores; the file part's type is the browser's guess.
  body.append('file', file);
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', form.url);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    };
    request.onload = () => {
      if (request.status >= 200 && request.status < 300) {
        onProgress(1);
        resolve();
      } else {
        reject(problem(request.status, request.statusText, request.responseText));
      }
    };
    request.onerror = () => reject(new ApiError(0, 'Network error'));
    request.onabort = () => reject(new ApiError(0, 'Upload cancelled'));
    signal?.addEventListener('abort', () => request.abort());
    request.send(body);
  });
}
