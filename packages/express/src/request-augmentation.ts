import type { RequestCanary } from '@canary-kit/core';

// Declaration merging: Express's own types leave `Express.Request` open for exactly this, so every handler
// (Express 4 or 5 types) sees `req.canary` without a cast once this package is imported.
declare global {
  namespace Express {
    interface Request {
      /**
       * This request's stable/canary decisions, set by `canaryMiddleware`: `evaluate(flag)` / `isCanary(flag)`
       * use the context built for this request and give the same answer for a flag however often they are
       * asked. Present on every request that passed through `canaryMiddleware`.
       */
      canary: RequestCanary;
    }
  }
}
