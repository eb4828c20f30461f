#!/usr/bin/env bash
# Reads the Allot events written to the journal since the last run and raises an alert for
# each guard.tripped event and a summary of drift.detected and license.failed events: by mail
# when ALLOT_ALERT_MAIL_TO is set, otherwise as a crit/warning message in the journal.
#
# Run by allot-alert.timer every 5 minutes (docs/deployment.md, "Alerting without a
# monitoring stack"). Needs jq. `allot-alert.sh --stdin` reads JSON lines from standard input
# instead of the journal, to try it out: journalctl -u allot -o cat | allot-alert.sh --stdin
set -euo pipefail

unit=${ALLOT_UNIT:-allot.service}
mail_to=${ALLOT_ALERT_MAIL_TO:-}
cursor_file=${STATE_DIRECTORY:-/var/lib/allot-alert}/cursor
host=$(hostname)

command -v jq >/dev/null || { echo "allot-alert: jq is not installed (apt-get install jq)" >&2; exit 1; }

# The new log lines: after the saved cursor, or the last 15 minutes on the first run.
read_events() {
    if [[ ${1:-} == --stdin ]]; then
        cat
    elif [[ -s $cursor_file ]]; then
        journalctl --unit "$unit" --output cat --no-pager --cursor-file "$cursor_file"
    else
        mkdir -p "$(dirname "$cursor_file")"
        journalctl --unit "$unit" --output cat --no-pager --cursor-file "$cursor_file" --since -15min
    fi
}

# One alert per line on standard output, as compact JSON: {priority, subject, body}.
# Lines that are not JSON (a crash message, another log format) are skipped.
summarise() {
    jq -R -c --slurp --arg host "$host" '
        def list: if type == "array" and length > 0 then map(tostring) | join(", ") elif type == "array" or . == null then empty else tostring end;
        def changes: [("add " + (.adds | list)), ("remove " + (.removals | list)), ("change plans " + (.plan_changes | list))] | join("; ");
        def user: .["user.upn"] // .["user.id"] // "?";
        def first20: (.[:20] | join("\n")) + (if length > 20 then "\n... and \(length - 20) more" else "" end);
        [split("\n")[] | fromjson? | select(type == "object")] as $events
        | ($events[] | select(.event == "guard.tripped")
            | {priority: "crit", subject: "Allot guard tripped on \($host)",
               body: "\(.msg)\nremovals: \(.removals // "?")\nreason: \(.reason // "?")\nat: \(.ts)\n\nRun `allot plan` to see the removals; `allot apply --allow-mass-removal` applies them once."}),
          ($events | map(select(.event == "drift.detected")) | select(length > 0)
            | {priority: "warning", subject: "Allot found \(length) drifted users on \($host)",
               body: map("\(user): \(changes)") | first20}),
          ($events | map(select(.event == "license.failed")) | select(length > 0)
            | {priority: "warning", subject: "Allot could not apply \(length) license changes on \($host)",
               body: map("\(user): \(.["graph.code"] // "?") \(.["graph.message"] // .msg)") | first20})
    '
}

send_alert() {
    local priority subject body
    priority=$(jq -r .priority <<<"$1")
    subject=$(jq -r .subject <<<"$1")
    body=$(jq -r .body <<<"$1")
    if [[ -n $mail_to ]]; then
        printf '%s\n' "$body" | mail -s "$subject" "$mail_to"
    else
        body=${body//$'\n\n'/$'\n'}
        logger --tag allot-alert --priority "user.$priority" -- "$subject: ${body//$'\n'/; }"
    fi
}

read_events "${1:-}" | summarise | while read -r alert; do
    send_alert "$alert"
done
