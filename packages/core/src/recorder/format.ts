/** The recording format, version 1: one JSON object per line. Field by field in docs/recording-format.md. */

export const RECORDING_VERSION = 1;

export type RecordedHeaderMap = Record<string, string | string[]>;

/** One recorded exchange as the recorder writes it. */
export interface RecordV1 {
  readonly v: 1;
  /** A random UUID. */
  readonly id: string;
  /** When the request started, ISO 8601 UTC with milliseconds. */
  readonly ts: string;
  /** Upper-case. */
  readonly method: string;
  /** Path and query as received, listed query parameters redacted. */
  readonly url: string;
  /** Request headers, listed ones redacted. */
  readonly headers: RecordedHeaderMap;
  /** Request body bytes in base64 (`""` when there was none), redacted. */
  readonly body: string;
  /** The body was cut at `maxBodyBytes` or not read to its end: a replay would not send what the client sent. */
  readonly body_truncated: boolean;
  /** Who served the request: `stable`, `canary`, or the service's own version label. */
  readonly version: string;
  /** The response status code (always recorded). */
  readonly status: number;
  /** Response headers, redacted; null unless `withResponse`. */
  readonly response_headers: RecordedHeaderMap | null;
  /** Response body bytes in base64, redacted; null unless `withResponse`. */
  readonly response_body: string | null;
  /** The response body was cut at `maxBodyBytes`; false when it was not recorded. */
  readonly response_body_truncated: boolean;
  /** From the request's arrival to the response's end, in milliseconds (three decimals). */
  readonly duration_ms: number;
}

/**
 * A record as the reader hands it to a replayer: the v1 shape, with the fields a hex-body line does not carry
 * (`version`, `status`, `duration_ms`, maybe `ts`) null, and where it came from.
 */
export interface ReadRecord extends Omit<RecordV1, 'ts' | 'version' | 'status' | 'duration_ms'> {
  readonly ts: string | null;
  readonly version: string | null;
  readonly status: number | null;
  readonly duration_ms: number | null;
  /** `v1`, or `hex` for the `body_hex` lines Python replay scripts write. */
  readonly format: 'v1' | 'hex';
}
