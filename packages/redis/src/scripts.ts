/**
 * The Lua scripts. Each runs atomically in Redis, so a read-compare-write never interleaves with another
 * replica's. Keys are passed as KEYS (never built inside a script) so they work with Redis Cluster hash tags.
 */

/**
 * Compare-and-set of the store document (a hash: revision, flags, rollouts, fence).
 * KEYS: document, lease. ARGV: expected revision, flags JSON, rollouts JSON, channel, fenced (0|1),
 * lease value, fencing token.
 * Returns {1, revision} on success, {0, revision, flags, rollouts} on a revision conflict and
 * {-1, revision, flags, rollouts} when a leader write is fenced off.
 *
 * An empty hash with a nonzero expected revision is Redis restarted without its data: the writer's revision
 * carries on (so replicas, which ignore older revisions, apply the write) instead of starting over at 1.
 * The published message is "revision\nflags\nrollouts" (JSON never holds a raw newline).
 */
export const SAVE = `
local stored = redis.call('HGET', KEYS[1], 'revision')
local revision = tonumber(stored or '0')
local expected = tonumber(ARGV[1])
if stored and revision ~= expected then
  return {0, revision, redis.call('HGET', KEYS[1], 'flags'), redis.call('HGET', KEYS[1], 'rollouts')}
end
if ARGV[5] == '1' then
  local holder = redis.call('GET', KEYS[2])
  local fence = tonumber(redis.call('HGET', KEYS[1], 'fence') or '0')
  if holder ~= ARGV[6] or tonumber(ARGV[7]) < fence then
    return {-1, revision, redis.call('HGET', KEYS[1], 'flags'), redis.call('HGET', KEYS[1], 'rollouts')}
  end
  redis.call('HSET', KEYS[1], 'fence', ARGV[7])
end
local next = expected + 1
redis.call('HSET', KEYS[1], 'revision', next, 'flags', ARGV[2], 'rollouts', ARGV[3])
redis.call('PUBLISH', ARGV[4], next .. '\\n' .. ARGV[2] .. '\\n' .. ARGV[3])
return {1, next}
`;

/**
 * Puts a replica's last known document back when Redis holds none or an older one (restarted without its
 * data, or restored from an old snapshot). Revisions only move forward, so the newest known document wins.
 * KEYS: document. ARGV: revision, flags JSON, rollouts JSON, channel. Returns 1 when it wrote.
 */
export const RESTORE = `
local revision = tonumber(redis.call('HGET', KEYS[1], 'revision') or '0')
if revision >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'revision', ARGV[1], 'flags', ARGV[2], 'rollouts', ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[1] .. '\\n' .. ARGV[2] .. '\\n' .. ARGV[3])
return 1
`;

/**
 * SET NX PX and the fencing token's INCR in one step: a token is spent only on a real acquisition.
 * KEYS: lease, token counter. ARGV: holder id, ttl ms.
 * Returns {token, 0} when acquired, {0, pttl} when someone holds it (pttl: when to try again).
 */
export const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, redis.call('PTTL', KEYS[1])}
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
return {token, 0}
`;

/** Extends the lease only while we still hold it. KEYS: lease. ARGV: our value, ttl ms. Returns 1 or 0. */
export const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`;

/** Compare-and-delete: releases the lease only if it is still ours. KEYS: lease. ARGV: our value. */
export const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;
