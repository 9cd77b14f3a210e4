import { CanaryModule } from '@canary-kit/nestjs';
import { Module } from '@nestjs/common';
import {
  CheckoutCanaryController,
  CheckoutStableController,
  PreviewController,
} from './checkout.controllers.js';
import { PricingService } from './pricing.service.js';

export const FLAG = 'checkout-v2';

@Module({
  imports: [
    CanaryModule.forRoot({
      // The module creates the Canary from this config and closes it on shutdown.
      config: {
        flags: {
          [FLAG]: {
            percentage: Number(process.env.CANARY_PERCENTAGE ?? 50),
            // Signed-in users by id; anonymous visitors by the sticky cookie canary-kit issues.
            stickiness: ['userId', 'sessionId'],
          },
        },
      },
      context: (req) => {
        const userId = req.headers['x-user-id'];
        return typeof userId === 'string' ? { userId } : {};
      },
      metricsPath: '/metrics',
    }),
  ],
  controllers: [CheckoutStableController, CheckoutCanaryController, PreviewController],
  providers: [PricingService],
})
export class AppModule {}
