"""Reads every user from a running `allot simulate` in pages of 999 and reports the simulator's
CPU time for the read (from /proc/PID/stat), wall time, pages and bytes (docs/simulator.md,
"Performance"). Plain Python, no SDK: the client's cost does not count.

    python3 Tests/Fidelity/read_benchmark.py http://127.0.0.1:PORT SIMULATOR_PID [RUNS]
"""
import json, os, sys, time, urllib.parse, urllib.request

base, pid = sys.argv[1], int(sys.argv[2])
tenant = "8f3c2a10-5b7e-4d2c-9a61-3e0f4b8d7c21"
ticks = os.sysconf("SC_CLK_TCK")

def cpu():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks

form = urllib.parse.urlencode({"client_id": "bench", "client_secret": "x", "grant_type": "client_credentials",
                               "scope": "https://graph.microsoft.com/.default"}).encode()
token = json.load(urllib.request.urlopen(f"{base}/{tenant}/oauth2/v2.0/token", form))["access_token"]
select = "id,userPrincipalName,usageLocation,assignedLicenses,licenseAssignmentStates,accountEnabled,userType,department,jobTitle,country,onPremisesExtensionAttributes"
url = f"{base}/v1.0/users?$select={select}&$top=999"
for run in range(int(sys.argv[3]) if len(sys.argv) > 3 else 3):
    users = pages = size = 0
    next_url = url
    before, started = cpu(), time.monotonic()
    while next_url:
        request = urllib.request.Request(next_url, headers={"Authorization": f"Bearer {token}"})
        body = urllib.request.urlopen(request).read()
        size += len(body)
        page = json.loads(body)
        users += len(page["value"])
        pages += 1
        next_url = page.get("@odata.nextLink")
    print(f"run {run + 1}: {users} users, {pages} pages, {size / 1e6:.1f} MB, wall {time.monotonic() - started:.2f} s, "
          f"simulator CPU {cpu() - before:.2f} s")
