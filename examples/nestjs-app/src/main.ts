import 'reflect-metadata';
import { canaryVersionExtractor } from '@canary-kit/nestjs';
import { VersioningType } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { AppModule, FLAG } from './app.module.js';

// PLATFORM=fastify runs the same app on @nestjs/platform-fastify.
const platform = process.env.PLATFORM === 'fastify' ? 'fastify' : 'express';
const app = await NestFactory.create(
  AppModule,
  platform === 'fastify' ? new FastifyAdapter() : new ExpressAdapter(),
  { logger: ['error', 'warn'] },
);
app.enableVersioning({ type: VersioningType.CUSTOM, extractor: canaryVersionExtractor(app, FLAG) });
app.enableShutdownHooks();
await app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1');
console.log(`nestjs-app (platform-${platform}) listening on ${await app.getUrl()}`);
console.log('try: curl -H "x-user-id: alice" <url>/checkout, then <url>/metrics');
