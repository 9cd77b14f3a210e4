import { Injectable } from '@nestjs/common';

/** Stands in for the business logic both versions share; the canary prices with the new rules. */
@Injectable()
export class PricingService {
  total(version: 'stable' | 'canary'): number {
    return version === 'canary' ? 95 : 100;
  }
}
