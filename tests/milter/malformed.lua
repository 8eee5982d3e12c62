-- Hostile input: NUL bytes, 10,000 headers, broken MIME, a 50 MiB body.
-- The daemon must answer every message.
dofile(os.getenv("TG_LUA_LIB"))
local conn = session()
local r = send(conn, "M1", "<sender@example.net>", {"<rcpt@example.org>"}, hdrs("nul"),
               "a\0b\0c viagra\0\r\n")
check(r == SMFIR_ACCEPT, "NUL bytes: accept")

local many = hdrs("many headers")
for i = 1, 10000 do table.insert(many, {"X-Junk-" .. i, string.rep("x", 50)}) end
r = send(conn, "M2", "<sender@example.net>", {"<rcpt@example.org>"}, many, "body\r\n")
check(r == SMFIR_ACCEPT, "10000 headers: accept")
local st = mt.getheader(conn, "X-Spam-Status", 0) or ""
check(string.find(st, "TG_HEADER_FLOOD", 1, true), "10000 headers not flagged: " .. st)

r = send(conn, "M3", "<sender@example.net>", {"<rcpt@example.org>"},
         hdrs("broken mime", {{"MIME-Version", "1.0"},
                              {"Content-Type", "multipart/mixed; boundary=\"never\""}}),
         "--never\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n" ..
         "!!!not base64###\r\n--nev")
check(r == SMFIR_ACCEPT, "broken MIME: accept")

-- 50 MiB in chunks under libmilter's 65,535-byte limit, as an MTA sends
message(conn, "M4", "<sender@example.net>", {"<rcpt@example.org>"}, hdrs("huge"), "")
local chunk = string.rep("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 1000)
for i = 1, 820 do ok(mt.bodystring(conn, chunk), "huge body chunk " .. i) end
ok(mt.eom(conn), "eom")
check(mt.getreply(conn) == SMFIR_ACCEPT, "50 MiB: accept")
st = mt.getheader(conn, "X-Spam-Status", 0) or ""
check(string.find(st, "TG_SCAN_TRUNCATED", 1, true), "50 MiB not flagged: " .. st)
mt.disconnect(conn)
done("malformed")
