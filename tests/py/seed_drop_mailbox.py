"""Remove one <mailbox> from an exsim seed, in place: a recipient the directory
knows but Exchange does not (EWS answers ErrorNonExistentMailbox).
Usage: seed_drop_mailbox.py SEED.xml SMTP"""
import re
import sys

path, smtp = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8").read()
new, n = re.subn(r'\s*<mailbox smtp="%s".*?</mailbox>' % re.escape(smtp), "", text, count=1,
                 flags=re.S)
if n != 1:
    sys.exit("no mailbox %s in %s" % (smtp, path))
open(path, "w", encoding="utf-8").write(new)
