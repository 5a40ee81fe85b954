"""The campaigns Tack ships with, one per churn group that is worth winning back (the domain
brief): deliberately pushed-away customers get none. Managers edit them in the admin.
Used by a data migration (with historical models) and by the demo seed.
"""

IMPROVEMENTS = {
    "en": "- Customer service now answers within five minutes, evenings too\n"
    "- Billing mistakes are put right the same day\n"
    "- A new app that also works offline",
    "sv": "- Kundservice svarar nu inom fem minuter, även på kvällarna\n"
    "- Fel på fakturan rättas samma dag\n"
    "- En ny app som också fungerar offline",
    "da": "- Kundeservice svarer nu inden for fem minutter, også om aftenen\n"
    "- Fejl på regningen bliver rettet samme dag\n"
    "- En ny app, der også virker offline",
    "nb": "- Kundeservice svarer nå innen fem minutter, også på kveldstid\n"
    "- Feil på fakturaen rettes samme dag\n"
    "- En ny app som også fungerer offline",
}

MESSAGES = {
    "improved": {
        "en": (
            "{{ first_name }}, we have made things better",
            "Hello {{ name }},\n\nThank you for the time you were with us. When you left, we had "
            "not lived up to what you expected of us. We are sorry, and we have worked on it:\n\n"
            "{{ improvements }}\n\nComing back is easy: everything is ready for you, and you can "
            "cancel whenever you like.",
        ),
        "sv": (
            "{{ first_name }}, vi har gjort det bättre",
            "Hej {{ name }},\n\nTack för tiden du var med oss. När du lämnade oss hade vi inte "
            "levt upp till det du väntade dig. Det är vi ledsna för, och vi har arbetat med "
            "det:\n\n"
            "{{ improvements }}\n\nDet är lätt att komma tillbaka: allt är klart för dig, och du "
            "kan säga upp när du vill.",
        ),
        "da": (
            "{{ first_name }}, vi har gjort det bedre",
            "Hej {{ name }},\n\nTak for tiden, du var hos os. Da du forlod os, havde vi ikke levet "
            "op til det, du forventede. Det er vi kede af, og vi har arbejdet på det:\n\n"
            "{{ improvements }}\n\nDet er let at komme tilbage: alt er klar til dig, og du kan "
            "opsige, når du vil.",
        ),
        "nb": (
            "{{ first_name }}, vi har gjort det bedre",
            "Hei {{ name }},\n\nTakk for tiden du var hos oss. Da du forlot oss, hadde vi ikke "
            "levd opp til det du forventet. Det beklager vi, og vi har jobbet med det:\n\n"
            "{{ improvements }}\n\nDet er enkelt å komme tilbake: alt er klart for deg, og du kan "
            "si opp når du vil.",
        ),
    },
    "new": {
        "en": (
            "{{ first_name }}, see what is new at {{ company }}",
            "Hello {{ name }},\n\nThank you for the time you were with us. We know another "
            "service caught your eye, so we would like to show you what is new with us:\n\n"
            "{{ improvements }}\n\nIf you are curious, coming back takes one click.",
        ),
        "sv": (
            "{{ first_name }}, se vad som är nytt hos {{ company }}",
            "Hej {{ name }},\n\nTack för tiden du var med oss. Vi vet att en annan tjänst lockade "
            "dig, så vi vill gärna visa vad som är nytt hos oss:\n\n{{ improvements }}\n\n"
            "Är du nyfiken tar det bara ett klick att komma tillbaka.",
        ),
        "da": (
            "{{ first_name }}, se hvad der er nyt hos {{ company }}",
            "Hej {{ name }},\n\nTak for tiden, du var hos os. Vi ved, at en anden tjeneste fangede "
            "din interesse, så vi vil gerne vise dig, hvad der er nyt hos os:\n\n"
            "{{ improvements }}\n\nEr du nysgerrig, tager det kun ét klik at komme tilbage.",
        ),
        "nb": (
            "{{ first_name }}, se hva som er nytt hos {{ company }}",
            "Hei {{ name }},\n\nTakk for tiden du var hos oss. Vi vet at en annen tjeneste fanget "
            "interessen din, så vi vil gjerne vise deg hva som er nytt hos oss:\n\n"
            "{{ improvements }}\n\nEr du nysgjerrig, tar det bare ett klikk å komme tilbake.",
        ),
    },
    "contract": {
        "en": (
            "{{ first_name }}, is your contract coming to an end?",
            "Hello {{ name }},\n\nIt is almost a year since you left us for another offer, so your "
            "contract there may be ending soon. Before you renew it, we would like to make you an "
            "offer: {{ offer }}.\n\nThank you for the time you were with us. We would be glad to "
            "have you back.",
        ),
        "sv": (
            "{{ first_name }}, går ditt avtal snart ut?",
            "Hej {{ name }},\n\nDet är snart ett år sedan du lämnade oss för ett annat erbjudande, "
            "så ditt avtal där kanske snart går ut. Innan du förnyar det vill vi ge dig ett "
            "erbjudande: {{ offer }}.\n\nTack för tiden du var med oss. Vi skulle bli glada att "
            "ha dig tillbaka.",
        ),
        "da": (
            "{{ first_name }}, udløber din aftale snart?",
            "Hej {{ name }},\n\nDet er snart et år siden, du forlod os for et andet tilbud, så din "
            "aftale dér udløber måske snart. Før du forlænger den, vil vi gerne give dig et "
            "tilbud: {{ offer }}.\n\nTak for tiden, du var hos os. Vi vil blive glade for at få "
            "dig tilbage.",
        ),
        "nb": (
            "{{ first_name }}, går avtalen din snart ut?",
            "Hei {{ name }},\n\nDet er snart et år siden du forlot oss for et annet tilbud, så "
            "avtalen din der går kanskje snart ut. Før du fornyer den, vil vi gjerne gi deg et "
            "tilbud: {{ offer }}.\n\nTakk for tiden du var hos oss. Vi blir glade for å ha deg "
            "tilbake.",
        ),
    },
    "hello": {
        "en": (
            "{{ first_name }}, a hello from {{ company }}",
            "Hello {{ name }},\n\nIt has been a while since you left us, and life may look "
            "different now. If you need us again, we are here: coming back takes one click, and "
            "you can cancel whenever you like.\n\nThank you for the time you were with us.",
        ),
        "sv": (
            "{{ first_name }}, en hälsning från {{ company }}",
            "Hej {{ name }},\n\nDet var ett tag sedan du lämnade oss, och livet kanske ser "
            "annorlunda ut nu. Om du behöver oss igen finns vi här: det tar ett klick att komma "
            "tillbaka, och du kan säga upp när du vill.\n\nTack för tiden du var med oss.",
        ),
        "da": (
            "{{ first_name }}, en hilsen fra {{ company }}",
            "Hej {{ name }},\n\nDet er et stykke tid siden, du forlod os, og livet ser måske "
            "anderledes ud nu. Hvis du får brug for os igen, er vi her: det tager ét klik at komme "
            "tilbage, og du kan opsige, når du vil.\n\nTak for tiden, du var hos os.",
        ),
        "nb": (
            "{{ first_name }}, en hilsen fra {{ company }}",
            "Hei {{ name }},\n\nDet er en stund siden du forlot oss, og livet ser kanskje "
            "annerledes ut nå. Hvis du trenger oss igjen, er vi her: det tar ett klikk å komme "
            "tilbake, og du kan si opp når du vil.\n\nTakk for tiden du var hos oss.",
        ),
    },
}

# name, message, fields
CAMPAIGNS = [
    (
        "Unintentionally pushed away: what we have improved",
        "improved",
        {
            "churn_groups": ["unintentionally_pushed"],
            "timing": "days",
            "first_contact_days": 60,
            "max_attempts": 2,
            "min_days_between": 90,
            "offer_kind": "free_month",
            "improvements": True,
        },
    ),
    (
        "Pulled away: what is new",
        "new",
        {
            "churn_groups": ["pulled_away"],
            "timing": "days",
            "first_contact_days": 90,
            "max_attempts": 2,
            "min_days_between": 120,
            "improvements": True,
        },
    ),
    (
        "Bought away: when their new contract ends",
        "contract",
        {
            "churn_groups": ["bought_away"],
            "timing": "contract",
            "contract_months": 12,
            "max_attempts": 2,
            "min_days_between": 60,
            "offer_kind": "discount",
            "offer_percent": 25,
            "offer_months": 3,
        },
    ),
    (
        "Self-switchers: a gentle hello",
        "hello",
        {
            "churn_groups": ["self_switcher"],
            "timing": "days",
            "first_contact_days": 180,
            "max_attempts": 1,
            "min_days_between": 180,
        },
    ),
    (
        "A personal call to our most valued lost customers",
        "improved",
        {
            "churn_groups": ["unintentionally_pushed", "pulled_away"],
            "channel": "phone",
            "min_attractiveness": 70,
            "timing": "days",
            "first_contact_days": 30,
            "max_attempts": 1,
            "min_days_between": 60,
            "improvements": True,
        },
    ),
]


def ensure_default_campaigns(apps) -> None:
    """Create the shipped campaigns that do not exist yet (idempotent)."""
    Campaign = apps.get_model("winback", "Campaign")
    for name, message, fields in CAMPAIGNS:
        fields = dict(fields)
        defaults = {key: value for key, value in fields.items() if key != "improvements"}
        for language, (subject, body) in MESSAGES[message].items():
            defaults[f"subject_{language}"] = subject
            defaults[f"body_{language}"] = body
            if fields.get("improvements"):
                defaults[f"improvements_{language}"] = IMPROVEMENTS[language]
        Campaign.objects.get_or_create(name=name, defaults=defaults)
