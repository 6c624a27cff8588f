"""Give one target mailbox of an exsim seed two rules of its own, in place:
R1, a stale copy of the source's "Forward to assistant" (same name, another
recipient: an update rewrites it), and R2, the target's own rule (never
touched).  Rollback must give both back under their ids.  Prints the target
address.  Shared by features_e2e.sh (EWS) and graph_e2e.sh (Graph).
Usage: seed_target_rules.py SEED.xml SMTP [ORG.json]
  with ORG.json, SMTP is the room's SOURCE address, mapped to its target one."""
import json
import sys
import xml.etree.ElementTree as ET

T = "http://schemas.microsoft.com/exchange/services/2006/types"
ET.register_namespace("t", T)


def t(parent, name, text=None):
    e = ET.SubElement(parent, "{%s}%s" % (T, name))
    e.text = text
    return e


def stale(parent):
    a = t(parent, "Address")
    t(a, "Name", "Stale copy")
    t(a, "EmailAddress", "stale@example.org")
    t(a, "RoutingType", "SMTP")


def main(argv):
    path, smtp = argv[1], argv[2]
    if len(argv) > 3:
        org = json.load(open(argv[3]))
        smtp = next(r for r in org["recipients"]
                    if r["source"]["smtp"].lower() == smtp.lower())["target"]["smtp"]
    tree = ET.parse(path)
    rules = next(m for m in tree.getroot().iter("mailbox") if m.get("smtp") == smtp).find("rules")

    def rule(rid, name, cond, cond_kid, action, action_kid):
        r = t(rules, "Rule")
        for k, v in (("RuleId", rid), ("DisplayName", name), ("Priority", rid[1:]),
                     ("IsEnabled", "true")):
            t(r, k, v)
        cond_kid(t(t(r, "Conditions"), cond))
        action_kid(t(t(r, "Actions"), action))

    rule("R1", "Forward to assistant", "FromAddresses", stale, "ForwardToRecipients", stale)
    rule("R2", "Target own rule", "ContainsSubjectStrings", lambda c: t(c, "String", "newsletter"),
         "MarkAsRead", lambda a: None)
    rules.find("{%s}Rule[{%s}RuleId='R2']/{%s}Actions/{%s}MarkAsRead" % (T, T, T, T)).text = "true"
    rules.set("next-id", "3")
    tree.write(path, encoding="utf-8", xml_declaration=True)
    print(smtp)


if __name__ == "__main__":
    main(sys.argv)
