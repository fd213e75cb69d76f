-- Whether a presented key may be used (the read-only self-service endpoints), by the same rule as
-- reserve. KEYS[9] = the key's hash. ARGV: secret sha, now ms. Returns 1 | 0.
return key_usable(KEYS[9], ARGV[1], tonumber(ARGV[2])) and 1 or 0
