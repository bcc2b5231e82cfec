"""The refusals of schema-valid requests that the server makes on purpose, each with the rule
behind it: rules that depend on stored state (the password on file, the code that was sent,
the key already used) or on several fields at once, which a JSON Schema cannot state. Every
other rule is in the spec itself, so that what the spec allows the server takes.

Loaded by schemathesis as its hooks module (SCHEMATHESIS_HOOKS), it registers the check
`refusal_is_a_stated_rule`: on the operations below, a schema-valid request may be refused with
422, and then only with one of the listed (code, field) pairs. Run as a script with the spec
as argument, it prints the schemathesis configuration that lets those operations answer 422 to
`positive_data_acceptance` (which stays on for every operation).
"""

import json
import sys

# operationId -> {(problem code, field): the rule}
STATED = {
    "delete_account": {("wrong_password", "password"): "the account's current password"},
    "change_password": {("wrong_password", "old_password"): "the account's current password"},
    "register": {
        ("otp_invalid", "code"): "the code that was sent to this phone",
        ("otp_expired", "code"): "a code is sent first, and lives five minutes",
    },
    "login": {
        ("missing_field", "password"): "exactly one of password and code",
        ("invalid_field", "code"): "exactly one of password and code",
    },
    "put_identity": {
        ("invalid_legal_name", "legal_name"): "letters of any script, which no regex every "
        "engine reads can name",
        ("invalid_id_number", "id_number"): "the GB 11643 check character and a birth date "
        "not in the future",
    },
    "check_in": {("invalid_field", "code"): "the door code of this station"},
    "station_stats": {
        ("invalid_field", "from"): "from before to, at most 366 days",
        ("invalid_field", "to"): "from before to, at most 366 days",
    },
    "patch_feedback": {("invalid_field", "reply"): "a reply, a status or both"},
    "create_station": {("invalid_field", "hours"): "a range may not end where it starts"},
    "patch_station": {("invalid_field", "hours"): "a range may not end where it starts"},
    "import_csv": {
        ("invalid_field", "body"): "a CSV file with a header row",
        ("csv_invalid", None): "every row a valid station; the answer lists each row's fault",
    },
    "import_order_counts": {
        ("invalid_field", "body"): "a CSV file with a header row",
        ("invalid_field", "encoding"): "an encoding the file is valid in",
        ("csv_invalid", None): "id_number, month and orders columns, every row valid; the "
        "answer lists each row's fault",
    },
    "attach_report": {
        ("invalid_field", "pdf_base64"): "base64",
        ("unsupported_file", "pdf_base64"): "a whole PDF",
        ("file_too_large", "pdf_base64"): "at most 5 MiB",
    },
    "file_case": {
        ("invalid_field", "respondent.credit_code"): "the GB 32100 check character",
        ("invalid_field", "period_to"): "not after today",
        ("invalid_field", "period_from"): "the period runs forwards",
        ("invalid_field", "org_id"): "an org that exists",
        ("case_consent_required", "consent"): "consent is given (true)",
    },
    "join_case": {("case_consent_required", "consent"): "consent is given (true)"},
    "create_grant_program": {
        ("invalid_field", "ends_at"): "ends after it starts",
        ("invalid_field", "amount_fen"): "at least 1 fen",
        ("invalid_field", "budget_fen"): "at least one household's amount",
        ("invalid_field", "shares"): "orgs strictly inside the issuer's subtree, once each, "
        "none inside another, each above 0, together at most the budget",
    },
    "apply_for_grant": {
        ("grant_consent_required", "consent"): "consent is given (true)",
        ("invalid_id_number", "household.id_number"): "the GB 11643 check character and a "
        "birth date not in the future",
        ("invalid_field", "household.id_number"): "no ID number twice in one household",
        ("invalid_field", "household.relation"): "the applicant is in the household already",
        ("invalid_field", "orders"): "first days of months, none twice, none still to come",
        ("invalid_field", "payout.card_number"): "12 to 19 digits with the Luhn check digit",
        ("real_name_required", None): "a real-name profile on file",
    },
    "object_to_grant": {("invalid_field", "note"): "an objection says what it is"},
    "correct_grant_payout": {("invalid_field", "card_number"): "12 to 19 digits with the Luhn "
                             "check digit"},
    "grant_batch_results": {("invalid_field", "paid"): "names at least one application, none "
                            "twice"},
    "add_mediator": {("mediator_not_staff", "phone"): "the account is staff of the org or above"},
    "assign_mediator": {("invalid_field", "account_id"): "a mediator on the rota of the case's "
                        "org or of an org above it"},
    "sign_agreement": {("invalid_field", "instalments"): "due dates in order, the first not "
                       "before today, each amount above 0"},
    "close_case": {("invalid_field", "outcome"): "a referral closes by itself"},
    "schedule_meeting": {("invalid_field", "starts_at"): "a moment still to come"},
    "add_evidence": {
        ("invalid_field", "content_base64"): "base64",
        ("unsupported_file", "content_base64"): "a whole PDF, JPEG, PNG or WebP",
        ("file_too_large", "content_base64"): "at most 5 MiB",
    },
    "add_grant_document": {
        ("invalid_field", "content_base64"): "base64",
        ("unsupported_file", "content_base64"): "a whole PDF, JPEG, PNG or WebP",
        ("file_too_large", "content_base64"): "at most 5 MiB",
    },
    "create_join_code": {("invalid_field", "expires_at"): "a moment still to come"},
    "create_program": {
        ("invalid_field", "kind"): "a hardship grant is created with its terms "
        "(POST /v1/admin/orgs/{id}/grant-programs)",
        ("invalid_field", "ends_at"): "ends after it starts",
        ("invalid_field", "stock"): "gift packs have a stock; programs booked by sessions (health checks, legal consultations) none",
        ("invalid_field", "mode"): "only gift packs are drawn",
        ("invalid_field", "entry_closes_at"): "a draw's entries close between start and end; "
        "first come has no entry window",
    },
    "create_session": {("invalid_field", "ends_at"): "ends after it starts"},
    # A report's period is both days or neither (the last calendar month).
    **{
        op: {
            ("missing_field", "from"): "a period has both ends",
            ("missing_field", "to"): "a period has both ends",
            ("invalid_field", "from"): "a period runs forwards, at most 366 days",
        }
        for op in ("members_report", "benefits_report", "stations_report", "case_stats",
                   "case_stats_csv")
    },
    "audit_log": {("invalid_field", "from"): "a period runs forwards"},
    "list_orgs": {("invalid_field", "cursor"): "the cursor is an org of the list: a tree's "
                  "order is not its ids'"},
    "patch_program": {
        ("invalid_field", "ends_at"): "ends after it starts, stored dates standing in for those "
        "left out",
        ("invalid_field", "stock"): "gift packs have a stock; programs booked by sessions (health checks, legal consultations) none",
        ("invalid_field", "mode"): "only gift packs are drawn",
        ("invalid_field", "entry_closes_at"): "a draw's entries close between start and end; "
        "first come has no entry window",
    },
    "patch_session": {
        ("invalid_field", "ends_at"): "ends after it starts, stored times standing in for those "
        "left out",
        ("invalid_field", "starts_at"): "ends after it starts, stored times standing in for "
        "those left out",
    },
}

# Every operation that takes an Idempotency-Key: the same key with another body.
KEY_REUSED = ("idempotency_key_reused", "Idempotency-Key")


def stated_for(operation_id, takes_key):
    rules = dict(STATED.get(operation_id, {}))
    if takes_key:
        rules[KEY_REUSED] = "a key already used with another body"
    return rules


def _takes_key(definition):
    return any(p.get("name") == "Idempotency-Key" for p in definition.get("parameters", []))


def config_toml(spec):
    """`[[operations]]` entries letting the operations with stated rules answer 422."""
    default = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
    out = []
    for item in spec["paths"].values():
        for definition in item.values():
            if not isinstance(definition, dict) or "operationId" not in definition:
                continue
            if not stated_for(definition["operationId"], _takes_key(definition)):
                continue
            statuses = ", ".join(f'"{s}"' for s in default + ["422"])
            out.append(
                f"[[operations]]\ninclude-operation-id = \"{definition['operationId']}\"\n"
                f"checks.positive_data_acceptance.expected-statuses = [{statuses}]\n"
            )
    return "\n".join(out)


if __name__ == "__main__":
    print(config_toml(json.load(open(sys.argv[1], encoding="utf-8"))))
else:
    import schemathesis
    from schemathesis.engine import observations

    # schemathesis 4.32 reads every string of a 2xx JSON body that starts with "/" as a link
    # and its run dies (ValueError "Invalid IPv6 URL") on one urlsplit cannot parse, such as a
    # generated title "/[" stored earlier and echoed back: such text is no link.
    _same_origin_path = getattr(observations, "_same_origin_path", None)
    if _same_origin_path is not None:

        def _link_or_none(value, origin):
            try:
                return _same_origin_path(value, origin)
            except ValueError:
                return None

        observations._same_origin_path = _link_or_none

    @schemathesis.check
    def refusal_is_a_stated_rule(ctx, response, case):
        meta = case.meta
        if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
            return None
        definition = case.operation.definition.raw
        rules = stated_for(definition.get("operationId"), _takes_key(definition))
        if not rules:
            return None  # positive_data_acceptance itself refuses the 422
        try:
            problem = response.json()
        except ValueError:
            raise AssertionError("a 422 without a problem+json body")
        said = (problem.get("code"), problem.get("field"))
        if said not in rules:
            raise AssertionError(
                f"schema-valid request refused with {said}, which is no stated rule of "
                f"{definition.get('operationId')}: state it in the spec or in "
                ".ci/schemathesis_rules.py"
            )
        return None
