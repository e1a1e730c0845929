-- SPDX-License-Identifier: MIT
-- examples/server/post.lua - wrk script: every request is POST /json with one JSON document,
-- an order of LOAD_ITEMS items (default 40; about 150 bytes and 14 tree nodes each), so that
-- each request parses, summarizes and echoes a tree of a few hundred nodes. Answers other
-- than 2xx/3xx are counted by wrk itself ("Non-2xx or 3xx responses"); load.sh checks it.
local n = tonumber(os.getenv("LOAD_ITEMS") or "40")
local items = {}
for i = 1, n do
  items[#items + 1] = string.format(
    '{"id":%d,"sku":"SKU-%05d","name":"item number %d","price":%d.99,"qty":%d,' ..
    '"tags":["red","large","sale"],"dims":{"w":%d,"h":%d,"d":%d}}',
    i, i * 7, i, i, i % 5 + 1, i, i + 1, i + 2)
end
wrk.method = "POST"
wrk.path = "/json"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"order":{"id":"A-1001","customer":{"name":"Ada","email":"ada@example.com"},' ..
  '"items":[' .. table.concat(items, ",") .. '],"paid":true,"note":null}}'

