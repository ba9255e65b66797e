"""The Lua scripts of `CallbackStore`: each state change is one atomic script.

Kept apart from the store so the Python reads as what it does; each script
states its KEYS and ARGV.
"""

# KEYS: req, queue, active, all, audit, code candidates...
# ARGV: id, fields (json), audit entry (json), created_ts, code key prefix length,
#       most open requests allowed
# Returns {1, code} created; {0, code} the id exists (a replay); {2, ''} the queue
# is full; {3, ''} every candidate code is taken (the caller retries with others).
CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, redis.call('HGET', KEYS[1], 'code') or ''}
end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[6]) then
  return {2, ''}
end
local code = ''
for i = 6, #KEYS do
  if redis.call('SET', KEYS[i], ARGV[1], 'NX') then
    code = string.sub(KEYS[i], tonumber(ARGV[5]) + 1)
    break
  end
end
if code == '' then
  return {3, ''}
end
local fields = cjson.decode(ARGV[2])
fields['code'] = code
for k, v in pairs(fields) do
  redis.call('HSET', KEYS[1], k, v)
end
local score = tonumber(fields['priority']) * 1e10 + tonumber(fields['deadline_ts'])
redis.call('ZADD', KEYS[2], score, ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[4], tonumber(ARGV[4]), ARGV[1])
redis.call('RPUSH', KEYS[5], ARGV[3])
return {1, code}
"""

# ARGV: id, mapping {from: to}, expect {field: value}, set {field: value ('' deletes)},
#       incr {field: n}, max {field: n}, audit entry, open states, terminal states, code prefix
TRANSITION = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  return {0, '', ''}
end
local claimed = redis.call('HGET', KEYS[1], 'claimed_by') or ''
local target = cjson.decode(ARGV[2])[state]
if not target then
  return {0, state, claimed}
end
for k, v in pairs(cjson.decode(ARGV[3])) do
  if (redis.call('HGET', KEYS[1], k) or '') ~= v then
    return {0, state, claimed}
  end
end
for k, n in pairs(cjson.decode(ARGV[5])) do
  redis.call('HINCRBY', KEYS[1], k, n)
end
for k, n in pairs(cjson.decode(ARGV[6])) do
  if tonumber(redis.call('HGET', KEYS[1], k) or '-1') < n then
    redis.call('HSET', KEYS[1], k, n)
  end
end
for k, v in pairs(cjson.decode(ARGV[4])) do
  if v == '' then
    redis.call('HDEL', KEYS[1], k)
  else
    redis.call('HSET', KEYS[1], k, v)
  end
end
redis.call('HSET', KEYS[1], 'state', target)
local id = ARGV[1]
if cjson.decode(ARGV[8])[target] then
  local prio = tonumber(redis.call('HGET', KEYS[1], 'priority'))
  local deadline = tonumber(redis.call('HGET', KEYS[1], 'deadline_ts'))
  redis.call('ZADD', KEYS[2], prio * 1e10 + deadline, id)
else
  redis.call('ZREM', KEYS[2], id)
end
if cjson.decode(ARGV[9])[target] then
  redis.call('SREM', KEYS[3], id)
  local code = redis.call('HGET', KEYS[1], 'code')
  if code then
    local ckey = ARGV[10] .. code
    if redis.call('GET', ckey) == id then
      redis.call('DEL', ckey)
    end
  end
end
local entry = cjson.decode(ARGV[7])
entry['from'] = state
entry['to'] = target
redis.call('RPUSH', KEYS[4], cjson.encode(entry))
return {1, state, target}
"""

# KEYS: marker; ARGV: lease (ms), now (ms)
# 'go' = this caller may send now; 'sent' = done before; 'busy' = another send is in flight
BEGIN_SEND = """
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, 5) == 'sent:' then
  return 'sent'
end
if v then
  return 'busy'
end
redis.call('SET', KEYS[1], 'sending:' .. ARGV[2], 'PX', ARGV[1])
return 'go'
"""
