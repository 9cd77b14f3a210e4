import type { Decision } from '@canary-kit/core';
import { CanaryDecision, CanaryGuard } from '@canary-kit/nestjs';
import { Controller, Get } from '@nestjs/common';
// biome-ignore lint/style/useImportType: Nest injects it from the emitted design:paramtypes, which needs the class at runtime.
import { PricingService } from './pricing.service.js';

// One path, two controllers: the custom-versioning extractor (see main.ts) answers 'canary' or 'stable'
// from the request's decision for the flag, and Nest routes to the matching controller.

@Controller({ path: 'checkout', version: 'stable' })
export class CheckoutStableController {
  constructor(private readonly pricing: PricingService) {}

  @Get()
  checkout(@CanaryDecision() decision: Decision) {
    return { version: 'stable', total: this.pricing.total('stable'), reason: decision.reason };
  }
}

@Controller({ path: 'checkout', version: 'canary' })
export class CheckoutCanaryController {
  constructor(private readonly pricing: PricingService) {}

  @Get()
  checkout(@CanaryDecision() decision: Decision) {
    return { version: 'canary', total: this.pricing.total('canary'), reason: decision.reason };
  }
}

/** A canary-only endpoint: stable requests get 404, as if it did not exist. */
@Controller('checkout-preview')
export class PreviewController {
  @Get()
  @CanaryGuard('checkout-v2')
  preview() {
    return { preview: true };
  }
}
