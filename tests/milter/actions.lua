-- Every action tollgate can take, and its header edits.
dofile(os.getenv("TG_LUA_LIB"))
local conn = session()

-- clean: accepted, X-Spam-Status "No" (SpamHeaders all), no X-Spam-Flag
local r = send(conn, "Q1", "<sender@example.net>", {"<rcpt@example.org>"},
               hdrs("hello"), "just a normal note\r\n")
check(r == SMFIR_ACCEPT, "clean: expected accept, got " .. r)
check(not mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag"), "clean: X-Spam-Flag added")
check(mt.eom_check(conn, MT_HDRADD, "X-Spam-Status", " No, score=0.0 required=5.0 tests=none"),
      "clean: X-Spam-Status")
check(mt.eom_check(conn, MT_HDRADD, "X-Spam-Score", " 0.0"), "clean: X-Spam-Score")
mt.disconnect(conn)

-- tag: headers, Subject prefix, and forged X-Spam-* from outside removed
conn = session()
r = send(conn, "Q2", "<sender@example.net>", {"<rcpt@example.org>"},
         hdrs("cheap viagra", {{"X-Spam-Flag", "NO"}, {"X-Spam-Status", "No, forged"},
                               {"X-Spam-Status", "No, forged again"}}),
         "buy viagra today\r\n")
check(r == SMFIR_ACCEPT, "tag: expected accept, got " .. r)
check(mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag", " YES"), "tag: X-Spam-Flag")
check(mt.eom_check(conn, MT_HDRADD, "X-Spam-Status",
      " Yes, score=6.0 required=5.0 tests=T_TAGWORD"), "tag: X-Spam-Status is " ..
      tostring(mt.getheader(conn, "X-Spam-Status", 0)))
check(mt.eom_check(conn, MT_HDRDELETE, "X-Spam-Flag"), "tag: outside X-Spam-Flag kept")
check(mt.eom_check(conn, MT_HDRDELETE, "X-Spam-Status"), "tag: outside X-Spam-Status kept")
check(mt.eom_check(conn, MT_HDRCHANGE, "Subject", " [SPAM] cheap viagra"), "tag: Subject prefix")
mt.disconnect(conn)

-- reject by an explicit action (the reply texts are checked in the daemon's
-- log by 20_milter.sh: miltertest's MT_SMTPREPLY check does not match them)
conn = session()
r = send(conn, "Q3", "<sender@example.net>", {"<rcpt@example.org>"},
         hdrs("please"), "reject-me-please\r\n")
check(r == SMFIR_REPLYCODE, "reject: expected a reply code, got " .. r)
mt.disconnect(conn)

-- reject by the shipped executable-attachment rule, with its text
conn = session()
r = send(conn, "Q4", "<sender@example.net>", {"<rcpt@example.org>"},
         hdrs("invoice", {{"MIME-Version", "1.0"},
                          {"Content-Type", "multipart/mixed; boundary=\"b\""}}),
         "--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\n" ..
         "Content-Type: application/octet-stream; name=\"invoice.pdf.exe\"\r\n" ..
         "Content-Disposition: attachment; filename=\"invoice.pdf.exe\"\r\n\r\nMZ\r\n--b--\r\n")
check(r == SMFIR_REPLYCODE, "exe: expected a reply code, got " .. r)
mt.disconnect(conn)

-- tempfail with the configured text
conn = session()
r = send(conn, "Q5", "<sender@example.net>", {"<rcpt@example.org>"},
         hdrs("later"), "tempfail-me\r\n")
check(r == SMFIR_REPLYCODE, "tempfail: expected a reply code, got " .. r)
mt.disconnect(conn)

-- quarantine with the reason, headers still added
conn = session()
r = send(conn, "Q6", "<sender@example.net>", {"<rcpt@example.org>"},
         hdrs("hold"), "quarantine-me\r\n")
check(r == SMFIR_ACCEPT, "quarantine: expected accept, got " .. r)
check(mt.eom_check(conn, MT_QUARANTINE, "held by test rule"), "quarantine: reason")
check(mt.eom_check(conn, MT_HDRADD, "X-Spam-Status"), "quarantine: X-Spam-Status")
mt.disconnect(conn)

-- discard
conn = session()
r = send(conn, "Q7", "<sender@example.net>", {"<rcpt@example.org>"},
         hdrs("bin"), "discard-me\r\n")
check(r == SMFIR_DISCARD, "discard: expected discard, got " .. r)
mt.disconnect(conn)
done("actions")
