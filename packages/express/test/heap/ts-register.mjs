// `node --import ./ts-register.mjs`: installs ts-hooks.mjs for the rest of the process.
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
