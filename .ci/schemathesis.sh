#!/usr/bin/env bash
# Property-based API testing from our own spec (openapi/openapi.json): schemathesis generates
# valid and invalid requests for every operation against a local `gigunion serve --demo` and
# runs every check (`--checks all`, see EXCLUDE_CHECKS below): no 5xx, every status, content
# type and header documented, bodies matching the spec, invalid input refused, missing auth
# refused, undeclared methods answered 405 with `Allow`. The served spec is first validated
# as OpenAPI 3.1 (openapi-spec-validator).
#
# The worker's routes run with a worker token (a rider who signed up by OTP and joined a demo
# union), /v1/admin/ with the token of the demo staff of 玄武区总工会. Each runs twice: with the
# ids of real records the script creates first (a gift pack and a voucher, a health check with
# a session, a booking and its report, a station with a visit and feedback, a pending
# application), so requests reach the logic behind them; then with generated path ids (mostly
# 404s, but every id format).
#
#   bash .ci/schemathesis.sh            # MAX_EXAMPLES=20 per operation
#   GIGUNION_BIN=target/release/gigunion MAX_EXAMPLES=50 bash .ci/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MAX_EXAMPLES=${MAX_EXAMPLES:-20}
# Every check, positive_data_acceptance included: what the spec allows the server takes,
# except the refusals listed with their rule in .ci/schemathesis_rules.py (rules of stored
# state or of several fields at once, which a schema cannot state). That module adds the check
# `refusal_is_a_stated_rule`, so such an operation's 422 must be one of its listed refusals.
EXCLUDE_CHECKS=${EXCLUDE_CHECKS-}
export SCHEMATHESIS_HOOKS=schemathesis_rules PYTHONPATH=$ROOT/.ci${PYTHONPATH:+:$PYTHONPATH}

if ! command -v schemathesis >/dev/null 2>&1; then
    echo "installing schemathesis"
    python3 -m pip install --quiet schemathesis
fi
if ! python3 -c 'import openapi_spec_validator' 2>/dev/null; then
    echo "installing openapi-spec-validator"
    python3 -m pip install --quiet openapi-spec-validator
fi

# The binary under test: GIGUNION_BIN, else a debug build brought up to date.
if [[ -z ${GIGUNION_BIN:-} ]]; then
    cargo build --quiet --bin gigunion
    GIGUNION_BIN=$ROOT/target/debug/gigunion
fi

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
echo "== schemathesis: starting $GIGUNION_BIN on $BASE"
DATABASE_URL=sqlite://$WORK/gigunion.db DATA_DIR=$WORK/data BIND=127.0.0.1:$PORT \
    SMS_SENDER=file:$WORK/sms.jsonl RUST_LOG=warn \
    "$GIGUNION_BIN" serve --demo >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 120); do
    curl -fsS "$BASE/readyz" >/dev/null 2>&1 && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        cat "$WORK/server.log" >&2
        echo "gigunion did not start" >&2
        exit 1
    fi
    sleep 0.5
done
curl -fsS "$BASE/readyz" >/dev/null

# The spec the server serves is valid OpenAPI 3.1 (unique operation ids, resolvable refs, ...).
echo "== openapi-spec-validator: $BASE/openapi.json"
curl -fsS "$BASE/openapi.json" -o "$WORK/served.json"
python3 - "$WORK/served.json" <<'PY'
import json, sys
from openapi_spec_validator import OpenAPIV31SpecValidator as Validator
spec = json.load(open(sys.argv[1]))
errors = list(Validator(spec).iter_errors())
for e in errors:
    print(f"  {'/'.join(map(str, e.absolute_path))}: {e.message}", file=sys.stderr)
if errors or spec["openapi"] != "3.1.0":
    sys.exit(f"the served spec is not valid OpenAPI 3.1: {len(errors)} error(s)")
print("valid OpenAPI 3.1")
PY

# Tokens and records, through the API only; writes $WORK/tokens.env and $WORK/seeded.toml.
python3 - "$BASE" "$WORK" <<'PY'
import base64, datetime as dt, json, re, sys, urllib.error, urllib.request

base, work = sys.argv[1], sys.argv[2]
log = open(f"{work}/server.log", encoding="utf-8").read()

def call(method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req) as res:
            return json.loads(res.read() or b"null")
    except urllib.error.HTTPError as e:
        sys.exit(f"set-up failed: {method} {path} -> {e.code} {e.read().decode()}")

def sms_code(phone):
    lines = [json.loads(l) for l in open(f"{work}/sms.jsonl", encoding="utf-8")]
    return [m for m in lines if m["phone"] == phone and "code" in m][-1]["code"]

def worker(phone, id_number, name, join_code):
    call("POST", "/v1/auth/otp", {"phone": phone})
    pair = call("POST", "/v1/auth/register",
                {"phone": phone, "code": sms_code(phone), "password": "rider2026"})
    token = pair["access_token"]
    call("PUT", "/v1/me/identity",
         {"legal_name": name, "id_number": id_number, "consent": True}, token)
    membership = call("POST", "/v1/memberships", {"join_code": join_code, "occupation": "rider",
                      "platform": "美团", "work_city": "南京"}, token)
    return token, membership

def at(days, hours=0):
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days, hours=hours)
    return when.replace(microsecond=0).isoformat()

# The demo staff of 玄武区总工会: seeding keeps its generated password in the data directory's
# logins file, never in the server's output.
logins = open(f"{work}/data/demo-logins.txt", encoding="utf-8").read()
staff_password = re.search(r"phone 13800000001 +password (\S+)", logins).group(1)
staff = call("POST", "/v1/auth/login",
             {"phone": "13800000001", "password": staff_password})["access_token"]
org = call("GET", "/v1/me", token=staff)["staff_scopes"][0]["org_id"]
auto_code = re.search(r"玄武 -> \S*/j/([A-Za-z0-9_-]+)", log).group(1)

member, _ = worker("13912345678", "11010519491231002X", "张三", auto_code)
review_code = call("POST", f"/v1/admin/orgs/{org}/join-codes",
                   {"label": "审核入会", "auto_approve": False}, staff)["code"]
_, application = worker("13912345679", "320102199001010010", "李四", review_code)

gift = call("POST", f"/v1/admin/orgs/{org}/programs",
            {"kind": "gift_pack", "title": "夏季清凉礼包", "starts_at": at(-1), "ends_at": at(30),
             "stock": 100}, staff)["id"]
call("POST", f"/v1/admin/programs/{gift}/publish", token=staff)
voucher = call("POST", f"/v1/programs/{gift}/claims", token=member)
health = call("POST", f"/v1/admin/orgs/{org}/programs",
              {"kind": "health_check", "title": "免费体检", "starts_at": at(-1), "ends_at": at(30)},
              staff)["id"]
call("POST", f"/v1/admin/programs/{health}/publish", token=staff)
# Starting within the hour: a booking checks in only around its session's time.
session = call("POST", f"/v1/admin/programs/{health}/sessions",
               {"site_name": "体检车", "address": "南京市玄武区", "starts_at": at(0, 0.5),
                "ends_at": at(0, 4), "capacity": 50}, staff)["id"]
booking = call("POST", f"/v1/sessions/{session}/bookings", {"waitlist": False}, member)
call("POST", "/v1/admin/redemptions", {"code": booking["code"]}, staff)
report = call("POST", f"/v1/admin/bookings/{booking['id']}/report",
              {"summary": {"conclusion": "未见异常", "heart_rate_bpm": 72},
               "pdf_base64": base64.b64encode(b"%PDF-1.4\n%%EOF\n").decode()}, staff)["id"]
created = call("POST", f"/v1/admin/orgs/{org}/stations",
               {"name": "珠江路驿站", "address": "南京市玄武区珠江路1号",
                "location": {"lat": 32.0486, "lng": 118.7977}, "hours": {"open_24h": True},
                "amenities": ["drinking_water"]}, staff)
station, door = created["id"], created["door_url"].split("?c=")[1]
call("POST", f"/v1/stations/{station}/visits", {"code": door}, member)
feedback = call("POST", f"/v1/stations/{station}/feedback",
                {"kind": "fault", "body": "饮水机坏了"}, member)["id"]
case = call("POST", "/v1/me/cases",
            {"kind": "wage_arrears", "amount_claimed_fen": 230000, "consent": True,
             "respondent": {"kind": "contractor", "name": "南京某某配送服务有限公司",
                            "credit_code": "91350100M000100Y43"},
             "facts": "九月的配送费未结清。"}, member)
png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + b"\0\0\0\0IEND\xaeB`\x82"
evidence = call("POST", f"/v1/me/cases/{case['id']}/evidence",
                {"name": "工资条.png", "content_base64": base64.b64encode(png).decode()},
                member)["id"]

with open(f"{work}/tokens.env", "w") as out:
    out.write(f"WORKER_TOKEN={member}\nSTAFF_TOKEN={staff}\n")
# Each path matches one entry (schemathesis merges entries that match the same operation).
ids = [
    (r"^/v1/(admin/)?programs/\{id\}(/(claims|draw|publish|close|stats))?$", gift),
    (r"^/v1/(admin/)?programs/\{id\}/sessions$", health),
    (r"^/v1/sessions/\{id\}/bookings$", session),
    (r"^/v1/(me/bookings/\{id\}(/qr\.svg)?|bookings/\{id\}|admin/bookings/\{id\}/report)$",
     booking["id"]),
    (r"^/v1/me/vouchers/\{id\}", voucher["id"]),
    (r"^/v1/me/reports/\{id\}", report),
    (r"^(/s/\{id\}|/v1/(admin/)?stations/\{id\}.*)$", station),
    (r"^/v1/(orgs/\{id\}|admin/orgs/\{id\}/.*)$", org),
    (r"^/v1/admin/feedback/\{id\}$", feedback),
    (r"^/v1/admin/memberships/\{id\}/", application["id"]),
    (r"^/v1/(me|admin)/cases/\{id\}(/(messages|evidence|accept|decline|mediator|agreement|refer|close|follow-up|meetings|group))?$", case["id"]),
]
with open(f"{work}/seeded.toml", "w") as out:
    for regex, value in ids:
        out.write(f"[[operations]]\ninclude-path-regex = '{regex}'\n"
                  f"parameters = {{ \"path.id\" = {value} }}\n\n")
    out.write("[[operations]]\n"
              "include-path-regex = '^/v1/(me|admin)/cases/\\{id\\}/evidence/\\{evidence_id\\}$'\n"
              f"parameters = {{ \"path.id\" = {case['id']}, \"path.evidence_id\" = {evidence} }}\n\n")
    codes = [
        (r"^(/j/|/v1/join/|/v1/admin/join-codes/)", {"path.code": auto_code}),
        (r"^/v1/memberships$", {"body.join_code": auto_code, "body.occupation": "rider"}),
        (r"^/v1/me/membership/transfer$", {"body.join_code": review_code}),
        (r"^/v1/admin/redemptions$", {"body.code": voucher["code"]}),
        (r"^/v1/me/cases/join$", {"body.invite_code": case["invite_code"]}),
    ]
    for regex, values in codes:
        values = ", ".join(f'"{name}" = "{value}"' for name, value in values.items())
        out.write(f"[[operations]]\ninclude-path-regex = '{regex}'\nparameters = {{ {values} }}\n\n")
PY
# shellcheck disable=SC1091
source "$WORK/tokens.env"
python3 "$ROOT/.ci/schemathesis_rules.py" "$ROOT/openapi/openapi.json" >"$WORK/generated.toml"
cat "$WORK/generated.toml" >>"$WORK/seeded.toml"

# run WHAT TOKEN CONFIG [schemathesis options]
run() {
    local what=$1 token=$2 config=$3
    shift 3
    echo "== schemathesis: $what"
    # From the work directory, so nothing (reports, example database) lands in the tree.
    (cd "$WORK" && schemathesis --config-file "$config" run "$ROOT/openapi/openapi.json" \
        --url "$BASE" --checks all ${EXCLUDE_CHECKS:+--exclude-checks "$EXCLUDE_CHECKS"} \
        --max-examples "$MAX_EXAMPLES" --seed 2026 --generation-database none \
        --header "Authorization: Bearer $token" --no-color "$@")
}
# Seeded ids first, while the worker is still a member: the worker pass leaves out leaving
# the union (`DELETE /v1/me/membership`) and withdrawing the real-name consent (`DELETE
# /v1/me/identity`, which ends the membership too); the generated-ids pass then covers both.
status=0
run "worker routes, worker token, seeded ids" "$WORKER_TOKEN" "$WORK/seeded.toml" \
    --exclude-path-regex '^/v1/admin/' --exclude-operation-id leave \
    --exclude-operation-id withdraw_identity || status=1
run "admin routes, staff token, seeded ids" "$STAFF_TOKEN" "$WORK/seeded.toml" \
    --include-path-regex '^/v1/admin/' || status=1
run "worker routes, worker token, generated ids" "$WORKER_TOKEN" "$WORK/generated.toml" \
    --exclude-path-regex '^/v1/admin/' || status=1
run "admin routes, staff token, generated ids" "$STAFF_TOKEN" "$WORK/generated.toml" \
    --include-path-regex '^/v1/admin/' || status=1
if [[ $status -ne 0 ]]; then
    echo "== schemathesis found problems; the server's log after start-up:" >&2
    sed -n '/is serving on/,$p' "$WORK/server.log" | tail -n 100 >&2
fi
exit $status
