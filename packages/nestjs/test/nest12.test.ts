// The @canary-kit/nestjs suite on NestJS 12, the Nest this package is developed against.
import 'reflect-metadata';
import * as adapter from '@canary-kit/nestjs';
import * as common from '@nestjs/common';
import * as core from '@nestjs/core';
import * as express from '@nestjs/platform-express';
import * as fastify from '@nestjs/platform-fastify';
import * as testing from '@nestjs/testing';
import { nestSuite } from './support/nest-suite.js';

nestSuite({ major: 12, from: import.meta.url, common, core, express, fastify, testing, adapter });
