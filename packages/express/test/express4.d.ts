// `express4` is the devDependency alias of express@4 the tests run against beside Express 5. Its API is the
// one @types/express describes for what these tests use, so borrow those types.
declare module 'express4' {
  import express from 'express';
  export default express;
}
