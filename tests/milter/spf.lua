-- SPF at MAIL FROM (SPFTestZone answers: no DNS), Authentication-Results,
-- forged Authentication-Results with our authserv-id removed, spf rules.
dofile(os.getenv("TG_LUA_LIB"))
local conn = session("192.0.2.10", "mail.spf-pass.test")
local r = send(conn, "S1", "<a@spf-pass.test>", {"<rcpt@example.org>"},
               hdrs("spf pass", {{"Authentication-Results", "mx.tollgate.test; spf=pass (forged)"},
                                 {"Authentication-Results", "other.example; spf=fail"}}), "hello\r\n")
check(r == SMFIR_ACCEPT, "pass: accept")
check(mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results",
      " mx.tollgate.test; spf=pass smtp.mailfrom=spf-pass.test"), "pass: A-R")
check(mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results"), "forged A-R not removed")
mt.disconnect(conn)

conn = session("203.0.113.66", "evil.example")
r = send(conn, "S2", "<a@spf-fail.test>", {"<rcpt@example.org>"}, hdrs("spf fail"), "hello\r\n")
check(mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results",
      " mx.tollgate.test; spf=fail smtp.mailfrom=spf-fail.test"), "fail: A-R")
check(string.find(mt.getheader(conn, "X-Spam-Status", 0) or "", "TG_SPF_FAIL", 1, true),
      "fail: TG_SPF_FAIL did not hit")
mt.disconnect(conn)

-- a forged local sender failing SPF is rejected by the shipped rules
conn = session("203.0.113.66", "evil.example")
r = send(conn, "S3", "<ceo@example.org>", {"<rcpt@example.org>"},
         {{"From", "CEO <ceo@example.org>"}, {"To", "rcpt@example.org"}, {"Subject", "urgent wire"}},
         "pay now\r\n")
check(r == SMFIR_REPLYCODE, "spoof: expected reject, got " .. r)
mt.disconnect(conn)

-- null sender: HELO identity
conn = session("192.0.2.10", "mail.spf-pass.test")
r = send(conn, "S4", "<>", {"<rcpt@example.org>"}, hdrs("bounce"), "hello\r\n")
check(mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results",
      " mx.tollgate.test; spf=pass smtp.helo=mail.spf-pass.test"), "helo identity A-R")
mt.disconnect(conn)

-- our own clients (InternalNetworks) are not SPF-checked
conn = session("127.0.0.1", "localhost")
r = send(conn, "S5", "<a@spf-fail.test>", {"<rcpt@example.org>"}, hdrs("internal"), "hello\r\n")
check(not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results"), "internal client was SPF-checked")
mt.disconnect(conn)
done("spf")
