// Shadow copies, raw body capture and upstream routing on NestJS 11, both platforms: a smoke set (1 MiB body
// integrity, a hung shadow target, upstream proxying and failover); Nest 12 runs the full matrix.
import 'reflect-metadata';
import * as adapter from '@canary-kit/nestjs';
import * as common from '@nestjs/common';
import * as core from '@nestjs/core';
import * as express from '@nestjs/platform-express';
import * as fastify from '@nestjs/platform-fastify';
import * as testing from '@nestjs/testing';
import { exchangeSuite } from '../../packages/nestjs/test/support/exchange-suite.js';
import type { NestKit } from '../../packages/nestjs/test/support/nest-suite.js';

// The suite is typed against the Nest 12 the package is developed with; these are the Nest 11 modules.
exchangeSuite(
  {
    major: 11,
    from: import.meta.url,
    common,
    core,
    express,
    fastify,
    testing,
    adapter,
  } as unknown as NestKit,
  { full: false },
);
