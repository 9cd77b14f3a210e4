import { OutboundClient } from '../outbound/http-client.js';

export interface WebhookConfig {
  /** Receives a POST with a JSON body for every step, promote, rollback and complete, and failed analyses. */
  url: string;
  /** Per notification. Default 5000 ms. */
  timeoutMs?: number;
  /** Extra headers, e.g. an authorization token for the receiver. */
  headers?: Readonly<Record<string, string>>;
}

/**
 * Posts rollout events to a URL (Slack relay, incident tool, CI). Fire-and-forget with a bound on notifications
 * in flight: a slow or dead receiver drops (and counts) notifications; it never delays the controller.
 */
export class WebhookNotifier {
  readonly counts = { sent: 0, failed: 0, dropped: 0 };
  readonly #client: OutboundClient;
  readonly #path: string;
  readonly #timeoutMs: number;
  readonly #headers: Record<string, string>;
  readonly #pending = new Set<Promise<void>>();
  static readonly MAX_IN_FLIGHT = 16;

  constructor(config: WebhookConfig) {
    const url = new URL(config.url);
    this.#client = new OutboundClient(url.origin, { connections: 4 });
    this.#path = `${url.pathname}${url.search}`;
    this.#timeoutMs = config.timeoutMs ?? 5000;
    this.#headers = { ...config.headers, 'content-type': 'application/json', host: url.host };
  }

  notify(event: string, payload: object): void {
    if (this.#pending.size >= WebhookNotifier.MAX_IN_FLIGHT) {
      this.counts.dropped++;
      return;
    }
    const body = Buffer.from(JSON.stringify({ event, at: new Date().toISOString(), ...payload }));
    const send = this.#client
      .request({
        method: 'POST',
        path: this.#path,
        headers: this.#headers,
        body,
        timeoutMs: this.#timeoutMs,
        maxResponseBytes: 4096,
      })
      .then((response) => {
        if (response.status >= 200 && response.status < 300) this.counts.sent++;
        else this.counts.failed++;
      })
      .catch(() => {
        this.counts.failed++;
      })
      .finally(() => this.#pending.delete(send));
    this.#pending.add(send);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
    await this.#client.close();
  }
}
