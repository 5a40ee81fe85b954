"""The exit reasons and offer rules Tack ships with; managers change them in the admin.

Used by a data migration (with historical models) and by the demo seed.
"""

# code, category, default churn group, asks competitor,
# labels (en, sv, da, nb), follow-up prompts (en, sv, da, nb)
REASONS = [
    (
        "moving",
        "life_change",
        "self_switcher",
        False,
        ("I am moving", "Jag flyttar", "Jeg flytter", "Jeg flytter"),
        (
            "Where are you moving to?",
            "Vart flyttar du?",
            "Hvor flytter du hen?",
            "Hvor flytter du?",
        ),
    ),
    (
        "illness",
        "life_change",
        "self_switcher",
        False,
        ("Illness or health", "Sjukdom eller hälsa", "Sygdom eller helbred", "Sykdom eller helse"),
        ("", "", "", ""),
    ),
    (
        "lost_job",
        "life_change",
        "self_switcher",
        False,
        (
            "I have lost my job",
            "Jag har förlorat jobbet",
            "Jeg har mistet mit job",
            "Jeg har mistet jobben",
        ),
        ("", "", "", ""),
    ),
    (
        "family_change",
        "life_change",
        "self_switcher",
        False,
        (
            "A change in my family",
            "En förändring i familjen",
            "En forandring i familien",
            "En endring i familien",
        ),
        ("", "", "", ""),
    ),
    (
        "new_job",
        "life_change",
        "self_switcher",
        False,
        (
            "A new job or less time",
            "Nytt jobb eller mindre tid",
            "Nyt job eller mindre tid",
            "Ny jobb eller mindre tid",
        ),
        ("", "", "", ""),
    ),
    (
        "price",
        "price",
        "",
        False,
        (
            "It costs too much",
            "Det kostar för mycket",
            "Det koster for meget",
            "Det koster for mye",
        ),
        (
            "What would be a fair price for you?",
            "Vilket pris skulle kännas rimligt för dig?",
            "Hvilken pris ville føles rimelig for dig?",
            "Hvilken pris ville vært rimelig for deg?",
        ),
    ),
    (
        "competitor_price",
        "competitor_price",
        "bought_away",
        True,
        (
            "I found a cheaper offer elsewhere",
            "Jag har hittat ett billigare erbjudande",
            "Jeg har fundet et billigere tilbud",
            "Jeg har funnet et billigere tilbud",
        ),
        ("", "", "", ""),
    ),
    (
        "competitor_features",
        "competitor_features",
        "pulled_away",
        True,
        (
            "Another company suits me better",
            "Ett annat företag passar mig bättre",
            "Et andet firma passer mig bedre",
            "Et annet selskap passer meg bedre",
        ),
        (
            "What do they offer that we do not?",
            "Vad erbjuder de som vi inte gör?",
            "Hvad tilbyder de, som vi ikke gør?",
            "Hva tilbyr de som vi ikke gjør?",
        ),
    ),
    (
        "expectations",
        "expectations",
        "unintentionally_pushed",
        False,
        (
            "It did not meet my expectations",
            "Det motsvarade inte mina förväntningar",
            "Det levede ikke op til mine forventninger",
            "Det svarte ikke til forventningene mine",
        ),
        (
            "What did you expect?",
            "Vad hade du väntat dig?",
            "Hvad havde du forventet?",
            "Hva hadde du ventet deg?",
        ),
    ),
    (
        "missing_feature",
        "expectations",
        "unintentionally_pushed",
        False,
        (
            "Something I need is missing",
            "Något jag behöver saknas",
            "Der mangler noget, jeg har brug for",
            "Noe jeg trenger, mangler",
        ),
        ("What is missing?", "Vad saknas?", "Hvad mangler?", "Hva mangler?"),
    ),
    (
        "poor_service",
        "service",
        "unintentionally_pushed",
        False,
        (
            "I am unhappy with the service",
            "Jag är missnöjd med servicen",
            "Jeg er utilfreds med servicen",
            "Jeg er misfornøyd med servicen",
        ),
        ("What went wrong?", "Vad gick fel?", "Hvad gik galt?", "Hva gikk galt?"),
    ),
    (
        "no_need",
        "no_need",
        "self_switcher",
        False,
        (
            "I no longer need it",
            "Jag behöver det inte längre",
            "Jeg har ikke brug for det længere",
            "Jeg trenger det ikke lenger",
        ),
        ("", "", "", ""),
    ),
    (
        "other",
        "other",
        "",
        False,
        ("Something else", "Något annat", "Noget andet", "Noe annet"),
        (
            "Tell us in your own words",
            "Berätta med egna ord",
            "Fortæl os med dine egne ord",
            "Fortell oss med dine egne ord",
        ),
    ),
]

# name, kind, reason codes, priority, extra fields
RULES = [
    (
        "Pause for life changes",
        "pause",
        ["moving", "illness", "lost_job", "family_change", "new_job"],
        100,
        # Not for annual plans: a pause there gives the next year free or does nothing.
        {"pause_max_months": 3, "billing_intervals": ["month"]},
    ),
    (
        "20% off the next year instead of a pause (annual plans)",
        "discount",
        ["moving", "illness", "lost_job", "family_change", "new_job"],
        99,
        {"billing_intervals": ["year"], "discount_percent": 20, "discount_months": 12},
    ),
    (
        "Call back when we disappointed",
        "callback",
        ["expectations", "missing_feature", "poor_service"],
        95,
        {},
    ),
    (
        "Cheaper plan when price matters",
        "downgrade",
        ["price", "competitor_price", "lost_job", "no_need"],
        90,
        {"requires_cheaper_plan": True},
    ),
    (
        "A free month after three years",
        "loyalty_bonus",
        [],
        80,
        {"min_tenure_months": 36, "bonus_kind": "free_month", "cooldown_months": 24},
    ),
    (
        "25% off for three months",
        "discount",
        ["price", "competitor_price"],
        70,
        {"min_tenure_months": 6, "discount_percent": 25, "discount_months": 3},
    ),
    ("Call back when a competitor looks better", "callback", ["competitor_features"], 60, {}),
]


def ensure_defaults(apps) -> None:
    """Create the default reasons and rules that do not exist yet (idempotent)."""
    ExitReason = apps.get_model("cancellations", "ExitReason")
    OfferRule = apps.get_model("cancellations", "OfferRule")
    if ExitReason.objects.filter(code__in=[reason[0] for reason in REASONS]).count() == len(
        REASONS
    ) and OfferRule.objects.filter(name__in=[rule[0] for rule in RULES]).count() == len(RULES):
        return  # all there (two queries instead of one per reason and rule)
    for order, (code, category, group, asks, labels, prompts) in enumerate(REASONS, start=1):
        fields = {
            "category": category,
            "default_churn_group": group,
            "asks_competitor": asks,
            "is_other": code == "other",
            "order": order * 10,
        }
        for language, label, prompt in zip(("en", "sv", "da", "nb"), labels, prompts, strict=True):
            fields[f"label_{language}"] = label
            fields[f"prompt_{language}"] = prompt
        ExitReason.objects.get_or_create(code=code, defaults=fields)
    # An earlier migration's model may not have the later fields (targeting): leave them out.
    known = {field.name for field in OfferRule._meta.get_fields()}
    for name, kind, codes, priority, extra in RULES:
        extra = {key: value for key, value in extra.items() if key in known}
        rule, created = OfferRule.objects.get_or_create(
            name=name, defaults={"kind": kind, "priority": priority, **extra}
        )
        if created and codes:
            rule.reasons.set(ExitReason.objects.filter(code__in=codes))
