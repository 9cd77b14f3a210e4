/**
 * The outbound client the replay sends with: core's undici pool client (keep-alive pool, a total deadline per
 * request, a cap on the bytes read back), the same one shadow traffic uses.
 */
export { OutboundClient, OutboundError, type OutboundResponse } from '@canary-kit/core';
