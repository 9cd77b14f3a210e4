export {
  backoffDelay,
  type ConnectionOptions,
  type ReconnectOptions,
  RedisUnavailableError,
} from './connection.js';
export {
  createLeaderLease,
  LeaderLease,
  type LeaderLeaseEvents,
  type LeaderLeaseOptions,
  type LeaseFencing,
} from './leader-lease.js';
export {
  createRedisStore,
  RedisStore,
  RedisStoreError,
  type RedisStoreOptions,
  type RedisStoreStats,
} from './redis-store.js';
