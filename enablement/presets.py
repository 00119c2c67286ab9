"""The relationship defaults of RULEBOOK §10 as plain data, installed for every program:
the onboarding curriculum, the co-marketing playbook, an ideal partner profile and the
first recruitment target."""

from decimal import Decimal as D

CERTIFICATION_TYPES = [
    ("demo", "Demo certification", 24),
    ("solo-demo", "Solo demo certification", 24),
    ("sales", "Sales certification", 12),
    ("technical", "Technical certification", 24),
]

# (slug, name, phase, due_days, hours, certification slug, auto event)
CURRICULUM = [
    ("product-deep-dive", "Product deep dive", "weeks_1_2", 14, D("2"), "", ""),
    ("icp-workshop", "ICP and positioning workshop", "weeks_1_2", 14, D("1"), "", ""),
    ("demo-certification", "Demo certification", "weeks_1_2", 14, None, "demo", ""),
    (
        "portal-training",
        "Portal and deal-registration training",
        "weeks_1_2",
        14,
        None,
        "",
        "",
    ),
    ("objection-handling", "Objection handling", "weeks_3_4", 28, None, "", ""),
    ("competitive-positioning", "Competitive positioning", "weeks_3_4", 28, None, "", ""),
    ("pricing-packaging", "Pricing and packaging walkthrough", "weeks_3_4", 28, None, "", ""),
    ("first-joint-call", "First joint call (shadow)", "weeks_3_4", 28, None, "", ""),
    ("solo-demo-certification", "Solo demo certification", "months_2_3", 90, None, "solo-demo", ""),
    (
        "first-registered-deal",
        "First registered deal",
        "months_2_3",
        90,
        None,
        "",
        "first_registration",
    ),
    (
        "first-campaign",
        "First co-marketing campaign",
        "months_2_3",
        90,
        None,
        "",
        "first_campaign",
    ),
    ("qbr-cadence", "QBR cadence established", "months_2_3", 90, None, "", "first_qbr"),
]

# (slug, name, cost share, vendor share, leads low, leads high, per, partner effort)
PLAYBOOK = [
    ("joint-webinar", "Joint webinar", "50/50", D("0.5"), 50, 200, "campaign", "Moderate"),
    (
        "co-branded-content",
        "Co-branded content",
        "We create, the partner distributes",
        None,
        20,
        50,
        "piece",
        "Low",
    ),
    ("event-sponsorship", "Event sponsorship", "MDF-funded", D("1"), 30, 100, "campaign", "High"),
    ("case-study", "Case study", "We produce", D("1"), None, None, "", "Low"),
    ("directory-listing", "Partner directory listing", "Free", None, 5, 15, "month", "None"),
]

# (field, test, value, points)
IDEAL_PROFILE = [
    ("customers_in_segment", "gte", "20", 25),
    ("annual_revenue", "gte", "1000000", 25),
    ("employees", "gte", "10", 20),
    ("technical_staff", "gte", "2", 15),
    ("partner_type", "in", "reseller,co_sell", 15),
]


def install(program, models) -> None:
    """Install the defaults for ``program``; what exists is kept (running it again changes
    nothing). ``models`` maps names to model classes: the real ones, or a migration's."""
    from prm.quarters import add_months

    cert_types = {}
    for slug, name, months in CERTIFICATION_TYPES:
        cert_types[slug], _ = models["CertificationType"].objects.get_or_create(
            slug=slug, defaults={"name": name, "validity_months": months}
        )
    for order, (slug, name, phase, due, hours, cert, event) in enumerate(CURRICULUM):
        models["Milestone"].objects.get_or_create(
            program=program,
            slug=slug,
            defaults={
                "name": name,
                "phase": phase,
                "due_days": due,
                "hours": hours,
                "certification_type": cert_types.get(cert),
                "auto_event": event,
                "order": order,
            },
        )
    for slug, name, share_text, share, low, high, per, effort in PLAYBOOK:
        models["CoMarketingActivity"].objects.get_or_create(
            program=program,
            slug=slug,
            defaults={
                "name": name,
                "cost_share": share_text,
                "vendor_share": share,
                "leads_low": low,
                "leads_high": high,
                "leads_per": per,
                "partner_effort": effort,
            },
        )
    if not models["ProfileCriterion"].objects.filter(program=program).exists():
        for field, test, value, points in IDEAL_PROFILE:
            models["ProfileCriterion"].objects.create(
                program=program, field=field, test=test, value=value, points=points
            )
    if not models["RecruitmentTarget"].objects.filter(program=program).exists():
        start = program.created_at.date()
        models["RecruitmentTarget"].objects.create(
            program=program,
            name="First six months",
            starts_on=start,
            ends_on=add_months(start, 6),
            target_low=10,
            target_high=20,
        )
