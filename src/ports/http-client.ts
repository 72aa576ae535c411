export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Response bodies larger than this are cut (default 4 MB). */
  maxResponseBytes?: number;
  /**
   * Which execution, action and attempt sends it. Real clients ignore it; the lab's client
   * passes it on as headers so a lab service can inject faults per action.
   */
  context?: { executionId: string; actionId: string; attempt: number };
  /**
   * How to trust an https server instead of the system's CAs: a CA file (PEM), or the SHA-256
   * fingerprint its certificate must have (checked before anything is sent).
   */
  tls?: { caFile?: string; fingerprint?: string };
}

export interface HttpResponse {
  status: number;
  /** The reason phrase, when the server sent one (Proxmox puts its error message there). */
  statusText?: string;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: string;
  durationMs: number;
}

/** Raised for network failures and timeouts (no HTTP status). */
export class HttpTransportError extends Error {
  constructor(
    message: string,
    readonly code: 'timeout' | 'aborted' | 'connection' | 'invalid_url' | 'too_large' | 'tls',
  ) {
    super(message);
    this.name = 'HttpTransportError';
  }
}

/** Sends one HTTP request. Any status is a response; only transport failures throw HttpTransportError. */
export interface HttpClient {
  request(req: HttpRequest): Promise<HttpResponse>;
}
