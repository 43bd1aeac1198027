// The REST API of /work/shared/API.md as the page uses it: bearer token on every call,
// problem+json turned into an `ApiError` whose `detail` can be shown as it is.

export class ApiError extends Error {
  /** `status` 0 means the server could not be reached at all. */
  constructor(status, problem) {
    super(problem?.detail || problem?.title || (status ? `HTTP ${status}` : 'the server is unreachable'));
    this.status = status;
    this.problem = problem;
  }

  /** Worth trying again later: unreachable, unavailable or rate limited. */
  get transient() {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

async function problemOf(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

export class Api {
  constructor(token, { onUnauthorized } = {}) {
    this.token = token;
    this.onUnauthorized = onUnauthorized;
  }

  async request(method, path, { json, body, headers = {} } = {}) {
    const init = { method, headers: { Authorization: `Bearer ${this.token}`, ...headers } };
    if (json !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(json);
    } else if (body !== undefined) {
      init.body = body;
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch {
      throw new ApiError(0, null);
    }
    if (!response.ok) {
      const problem = await problemOf(response);
      if (response.status === 401 && this.onUnauthorized) this.onUnauthorized(problem);
      throw new ApiError(response.status, problem);
    }
    return response;
  }

  /** The JSON answer, with `status` (202 means accepted, not yet visible in reads). */
  async call(method, path, json) {
    const response = await this.request(method, path, { json });
    if (response.status === 204) return { status: 204, body: null };
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }

  async get(path) {
    return (await this.call('GET', path)).body;
  }

  post(path, json) {
    return this.call('POST', path, json);
  }

  put(path, json) {
    return this.call('PUT', path, json);
  }

  patch(path, json) {
    return this.call('PATCH', path, json);
  }

  delete(path) {
    return this.call('DELETE', path);
  }

  /** Uploads one file (multipart field `file`): `{id, name, content_type, size, sha256}`. */
  async upload(file) {
    const form = new FormData();
    form.append('file', file, file.name);
    const response = await this.request('POST', '/api/attachments', { body: form });
    return response.json();
  }

  /** An attachment's bytes: fetched with the token (a plain link could not send it). */
  async download(id) {
    const response = await this.request('GET', `/api/attachments/${encodeURIComponent(id)}`);
    return response.blob();
  }
}

/**
 * A token from the development sign-in, or `null` when this server has none (it verifies
 * with a configured key: production, or development with PARLEY_JWT_SECRET).
 */
export async function devToken(request) {
  let response;
  try {
    response = await fetch('/api/dev/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(request),
    });
  } catch {
    throw new ApiError(0, null);
  }
  if (response.status === 404) return null;
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  return response.json();
}

/** Whether the server offers development sign-in (`GET /api/dev/token` answers 204 then). */
export async function hasDevSignIn() {
  try {
    return (await fetch('/api/dev/token')).ok;
  } catch {
    return true;
  }
}
