"""The API's OpenAPI schema: operations grouped by resource, each with a summary.

drf-spectacular names a tag after the first part of the path, which is ``v1`` for every
operation here. ``Schema`` (REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS) tags by the router's
basename instead, and writes each summary from the action and the resource's noun.
``extend_schema(tags=…, summary=…)`` on a view still wins. An operation this table does not
know gets the catch-all tag or no summary, which tests/test_api_docs.py refuses: a new
resource or action adds its line here (and a new tag its entry in SPECTACULAR_SETTINGS'
TAGS, which orders and describes them).
"""

from drf_spectacular.openapi import AutoSchema

# The router's basename (or, for a plain view, the first part of its path) → (tag, the
# resource's noun with its article, and its plural).
RESOURCES = {
    "auth": ("auth", "an API token", "API tokens"),
    "program": ("programs", "a program", "programs"),
    "partner": ("partners", "a partner", "partners"),
    "partner-user": ("partners", "a partner's person", "a partner's people"),
    "certification": ("enablement", "a certification", "certifications"),
    "training": ("enablement", "a training completion", "training completions"),
    "event": ("enablement", "an event attendance", "event attendances"),
    "account": ("accounts", "an account", "accounts"),
    "lead": ("leads", "a lead", "leads"),
    "deal": ("deals", "a deal registration", "deal registrations"),
    "conflict": ("deals", "a conflict case", "conflict cases"),
    "ledger": ("incentives", "a ledger entry", "ledger entries"),
    "incentive-claim": ("incentives", "an incentive claim", "incentive claims"),
    "contribution": ("incentives", "a contribution", "contributions"),
    "mdf-fund": ("mdf", "an MDF fund", "MDF funds"),
    "mdf-request": ("mdf", "an MDF request", "MDF requests"),
    "mdf-claim": ("mdf", "an MDF claim", "MDF claims"),
    "scorecard": ("scoring", "a scorecard", "scorecards"),
    "red-flag": ("scoring", "a red flag", "red flags"),
    "quarter": ("scoring", "a quarter's close", "quarter closes"),
    "qbr": ("reviews", "a QBR", "QBRs"),
    "business-plan": ("reviews", "a joint business plan", "joint business plans"),
    "dashboard": ("dashboard", "the dashboard", "dashboards"),
    "webhook": ("webhooks", "a webhook subscription", "webhook subscriptions"),
    "webhook-delivery": ("webhooks", "a webhook delivery", "webhook deliveries"),
}

# Summaries by action: ``{one}`` is the noun with its article, ``{many}`` the plural.
ACTIONS = {
    "list": "List {many}",
    "retrieve": "Get {one}",
    "create": "Create {one}",
    "partial_update": "Update {one}",
    "update": "Replace {one}",
    "destroy": "Delete {one}",
    "approve": "Approve {one}",
    "reject": "Reject {one}",
    "review": "Decide {one} held for review",
    "extend": "Extend the protection of {one}",
    "win": "Record {one} as won",
    "lose": "Record {one} as lost",
    "resolve": "Resolve {one}",
    "escalate": "Escalate {one}",
    "confirm": "Confirm {one}",
    "decline": "Decline {one}",
    "dispute": "Dispute the rejection of {one}",
    "cancel": "Withdraw {one}",
    "pay": "Mark approved {many} paid",
    "export": "Export approved {many} as CSV",
    "secret": "Show the signing secret of {one}",
    "rotate_secret": "Rotate the signing secret of {one}",
    "deliveries": "List the deliveries of {one}",
    "redeliver": "Send {one} again",
    "close": "Run {one}",
}

# Where the resource has a better verb than the action's.
BY_RESOURCE = {
    ("deal", "create"): "Register a deal (or import a past one)",
    ("partner-user", "create"): "Add a person to a partner",
    ("certification", "create"): "Award a certification",
    ("training", "create"): "Record a training completion",
    ("event", "create"): "Record an event attendance",
    ("lead", "create"): "Import a CRM lead",
    ("webhook", "create"): "Subscribe a webhook",
}

# Plain views (no viewset action): by HTTP method.
PLAIN = {
    ("auth", "POST"): "Sign in: get an API token",
    ("auth", "DELETE"): "Revoke the API token in use",
    ("dashboard", "GET"): "Get the executive dashboard's figures",
}


class Schema(AutoSchema):
    def _resource(self) -> str:
        basename = getattr(self.view, "basename", None)
        if basename:
            return basename
        parts = self._tokenize_path()
        return parts[1] if len(parts) > 1 and parts[0] == "v1" else (parts or [""])[0]

    def get_tags(self) -> list[str]:
        known = RESOURCES.get(self._resource())
        return [known[0]] if known else super().get_tags()

    def get_summary(self) -> str | None:
        resource = self._resource()
        known = RESOURCES.get(resource)
        if known is None:
            return super().get_summary()
        action = getattr(self.view, "action", None)
        if action is None:
            return PLAIN.get((resource, self.method))
        if (resource, action) in BY_RESOURCE:
            return BY_RESOURCE[(resource, action)]
        template = ACTIONS.get(action)
        return template.format(one=known[1], many=known[2]) if template else None
