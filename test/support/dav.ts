// A real CalDAV/CardDAV client for the end-to-end tests: python3's caldav library (Debian's
// python3-caldav, with python3-requests under it), run on this machine against a test host over
// HTTPS. The mail host name resolves to the host's address inside the script only; the certificate
// is verified against the host's own CA and name. Each call runs a list of steps and returns what
// each one found, as JSON.
import { execa } from 'execa';

export type DavStep =
  /** Discovers the principal from `url`, makes a calendar with one event and an address book with one contact. */
  | { op: 'write'; url: string; user: string; password: string }
  /** Reads the summaries of every event and the names of every contact of the user. */
  | { op: 'read'; url: string; user: string; password: string }
  /** The status of an authenticated GET (or PROPFIND) of a URL, and nothing else. */
  | { op: 'status'; url: string; user: string; password: string; method?: 'GET' | 'PROPFIND' }
  /** An unauthenticated GET without following redirects: status and Location. */
  | { op: 'get'; url: string };

export interface DavTarget {
  address: string;
  servername: string;
  /** PEM file the host's certificate is verified against. */
  caFile: string;
}

const SCRIPT = String.raw`
import json, socket, sys, uuid
import caldav, requests
from caldav.lib.error import AuthorizationError

target, steps = json.loads(sys.argv[1]), json.loads(sys.argv[2])
_getaddrinfo = socket.getaddrinfo
def getaddrinfo(host, *args, **kwargs):
    return _getaddrinfo(target["address"] if host == target["servername"] else host, *args, **kwargs)
socket.getaddrinfo = getaddrinfo

EVENT = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//mailrig e2e//EN
BEGIN:VEVENT
UID:%s
DTSTAMP:20260701T080000Z
DTSTART:20260715T090000Z
DTEND:20260715T100000Z
SUMMARY:Planning with Bob
END:VEVENT
END:VCALENDAR
"""
CARD = """BEGIN:VCARD
VERSION:3.0
UID:%s
FN:Carol Example
EMAIL:carol@example.org
END:VCARD
"""
MKADDRESSBOOK = """<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>
<D:resourcetype><D:collection/><C:addressbook/></D:resourcetype><D:displayname>Contacts</D:displayname>
</D:prop></D:set></D:mkcol>"""

def client(step):
    return caldav.DAVClient(url=step["url"], username=step["user"], password=step["password"], ssl_verify_cert=target["caFile"])

def run(step):
    op = step["op"]
    if op == "get":
        r = requests.get(step["url"], allow_redirects=False, verify=target["caFile"])
        return {"status": r.status_code, "location": r.headers.get("Location")}
    if op == "status":
        r = requests.request(step.get("method", "GET"), step["url"], auth=(step["user"], step["password"]), verify=target["caFile"], headers={"Depth": "0"})
        return {"status": r.status_code}
    c = client(step)
    try:
        principal = c.principal()
    except AuthorizationError as e:
        return {"error": "unauthorized", "detail": str(e)}
    home = str(principal.url)
    if op == "write":
        calendar = principal.make_calendar(name="Work", cal_id="work")
        calendar.save_event(EVENT % uuid.uuid4())
        book = home + "contacts/"
        made = c.request(book, "MKCOL", MKADDRESSBOOK, {"Content-Type": "application/xml"})
        card = book + "carol.vcf"
        put = c.put(card, CARD % uuid.uuid4(), {"Content-Type": "text/vcard"})
        return {"principal": home, "calendar": str(calendar.url), "addressbook": book, "card": card, "mkcol": made.status, "put": put.status}
    if op == "read":
        events = [e.data for cal in principal.calendars() for e in cal.events()]
        card = c.request(home + "contacts/carol.vcf", "GET")
        raw = card.raw.decode() if isinstance(card.raw, bytes) else card.raw
        return {
            "principal": home,
            "summaries": sorted(line[len("SUMMARY:"):].strip() for data in events for line in data.splitlines() if line.startswith("SUMMARY:")),
            "card": card.status,
            "names": [line[3:].strip() for line in raw.splitlines() if line.startswith("FN:")] if card.status == 200 else [],
        }
    raise ValueError(op)

out = []
for step in steps:
    out.append(run(step))
print(json.dumps(out))
`;

export async function davClient(target: DavTarget, steps: DavStep[]): Promise<Array<Record<string, unknown>>> {
  // Debian's python3 (where python3-caldav lives), not whatever python3 comes first on PATH.
  const r = await execa('/usr/bin/python3', ['-c', SCRIPT, JSON.stringify(target), JSON.stringify(steps)], { reject: false, timeout: 120_000 });
  if (r.exitCode !== 0) throw new Error(`the DAV client failed (exit ${r.exitCode}):\n${r.stderr}\n${r.stdout}`);
  return JSON.parse(r.stdout) as Array<Record<string, unknown>>;
}
