import type { RequestState } from '@canary-kit/core';
import type { FastifyRequest } from 'fastify';
import type { RouteBinding } from './route-binding.js';

/** Per-request slots, decorated as `null` (Fastify 5: no reference types on the prototype) and assigned in onRequest. */
export const kState: unique symbol = Symbol('canary-kit.state');
export const kRoute: unique symbol = Symbol('canary-kit.route');

export interface CanarySlots {
  /** Decisions, sticky cookie and start time, from RequestBinding.start; read again when the response is done. */
  [kState]: RequestState | null;
  /** The matched route's pattern and bound flag. */
  [kRoute]: RouteBinding | null;
}

export type SlottedRequest = FastifyRequest & CanarySlots;
