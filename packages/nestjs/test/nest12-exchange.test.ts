// Shadow copies, raw body capture and upstream routing on NestJS 12, both platforms: the full matrix
// (body integrity at every size, every shadow and upstream fault).
import 'reflect-metadata';
import * as adapter from '@canary-kit/nestjs';
import * as common from '@nestjs/common';
import * as core from '@nestjs/core';
import * as express from '@nestjs/platform-express';
import * as fastify from '@nestjs/platform-fastify';
import * as testing from '@nestjs/testing';
import { exchangeSuite } from './support/exchange-suite.js';

exchangeSuite(
  { major: 12, from: import.meta.url, common, core, express, fastify, testing, adapter },
  { full: true },
);
