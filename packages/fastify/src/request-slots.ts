import type { RequestState, Version } from '@canary-kit/core';
import type { FastifyRequest } from 'fastify';
import type { RouteBinding } from './route-binding.js';

/** Per-request slots, decorated as `null` (Fastify 5: no reference types on the prototype) and assigned in onRequest. */
export const kState: unique symbol = Symbol('canary-kit.state');
export const kRoute: unique symbol = Symbol('canary-kit.route');
export const kServedBy: unique symbol = Symbol('canary-kit.servedBy');

export interface CanarySlots {
  /** Decisions, sticky cookie, start time and body capture, from RequestBinding.start; read again when the response is done. */
  [kState]: RequestState | null;
  /** The matched route's pattern, bound flag and shadow opt-in. */
  [kRoute]: RouteBinding | null;
  /** Set when a canary request was served by the local stable handler after its upstream failed. */
  [kServedBy]: Version | null;
}

export type SlottedRequest = FastifyRequest & CanarySlots;
