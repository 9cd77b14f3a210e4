// The @canary-kit/nestjs suite on NestJS 11. This directory is its own workspace package depending on Nest 11,
// with @canary-kit/nestjs injected (a copy whose peers resolve here), so the adapter imports the same Nest 11
// as the app below — the suite asserts it. After editing packages/nestjs, `pnpm --filter @canary-kit/nestjs
// build` (or `pnpm install`) refreshes the copy.
import 'reflect-metadata';
import * as adapter from '@canary-kit/nestjs';
import * as common from '@nestjs/common';
import * as core from '@nestjs/core';
import * as express from '@nestjs/platform-express';
import * as fastify from '@nestjs/platform-fastify';
import * as testing from '@nestjs/testing';
import { type NestKit, nestSuite } from '../../packages/nestjs/test/support/nest-suite.js';

// The suite is typed against the Nest 12 the package is developed with; these are the Nest 11 modules.
nestSuite({
  major: 11,
  from: import.meta.url,
  common,
  core,
  express,
  fastify,
  testing,
  adapter,
} as unknown as NestKit);
