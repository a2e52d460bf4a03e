-- Charges one request to a budget. KEYS: 1 rate key. ARGV: 1 now (ms), 2 rate per minute.
-- Returns 0 (allowed) or the seconds to wait.
-- Runs after prelude/session_common.lua (gcra, end_family).
return gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
