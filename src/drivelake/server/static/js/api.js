// The HTTP API, with the key from the login field (kept in sessionStorage for this tab only).

const KEY = "drivelake.key";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export const key = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

/** A query string from an object; arrays repeat the name, empty values are left out. */
export function query(params = {}) {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== undefined && v !== null && v !== "") q.append(name, v);
    }
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** fetch() with the key; retries when rate-limited; throws ApiError with the server's message. */
export async function request(path, { method = "GET", body, signal, raw = false } = {}) {
  const headers = { Authorization: `Bearer ${key.get() || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(path, {
      method,
      headers,
      signal,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 429 && attempt < 4) {
      await sleep(1000 * Number(response.headers.get("retry-after") || 1));
      continue;
    }
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      try {
        message = (await response.json()).error || message;
      } catch {
        // not JSON: keep the status line
      }
      if (response.status === 401) window.dispatchEvent(new CustomEvent("drivelake:unauthorised"));
      throw new ApiError(response.status, message);
    }
    if (raw) return response;
    return response.status === 204 ? null : response.json();
  }
}

export const get = (path, params, options = {}) => request(path + query(params), options);
export const post = (path, body) => request(path, { method: "POST", body });
export const del = (path) => request(path, { method: "DELETE" });

/** An object URL for an authenticated image or video (img/video elements cannot send headers). */
export async function blobUrl(path, signal) {
  const response = await request(path, { raw: true, signal });
  return URL.createObjectURL(await response.blob());
}
