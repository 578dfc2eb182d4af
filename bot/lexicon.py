"""Words visitors use for what the clinic's articles call otherwise.

Two small tables, both about how people ask rather than about any one article:

- ``SYNONYMS``: a visitor's word and the words an article would use for the same thing
  ("price" for "cost", "throw up" for "nausea"). The embedding model finds many such pairs
  by itself (see ``Retriever.query_terms``); this table holds the ones it misses or that a
  health FAQ must not get wrong.
- ``VAGUE``: words that carry no topic of their own ("actually", "stuff", "normal"): a
  question is not unanswered because the article never says "stuff".
"""

from __future__ import annotations

SYNONYMS: dict[str, tuple[str, ...]] = {
    # money
    "price": ("cost",), "prices": ("cost",), "pricing": ("cost",), "priced": ("cost",),
    "expensive": ("cost",), "cheap": ("cost", "afford"), "afford": ("affordable", "cost"),
    "fee": ("cost",), "fees": ("cost",), "charge": ("cost",), "pay": ("cost", "payments"),
    "paying": ("cost", "payments"), "money": ("cost",), "dollars": ("cost",), "bill": ("cost",),
    "payment": ("payments", "financing"), "installments": ("financing",), "loan": ("financing",),
    "finance": ("financing",), "cash": ("cash",), "discount": ("discount",),
    # insurance
    "insurer": ("insurance",), "insured": ("insurance",), "coverage": ("cover", "covered"),
    "covers": ("cover",), "medicare": ("insurance",), "medicaid": ("insurance",),
    "aetna": ("insurance",), "cigna": ("insurance",), "humana": ("insurance",),
    "bcbs": ("insurance",), "blue": ("insurance",), "reimburse": ("cover",), "reimbursed": ("cover",),
    "preauthorization": ("prior", "authorization"), "preauth": ("prior", "authorization"),
    "approval": ("authorization",),
    # contact
    "phone": ("contact",), "call": ("contact",), "email": ("contact",), "reach": ("contact",),
    "number": ("contact",), "telephone": ("contact",), "e-mail": ("contact",),
    # time
    "duration": ("hours", "minutes", "period"), "long": ("hours", "minutes", "period", "long"),
    "length": ("hours", "minutes", "period"), "quick": ("minutes", "quickly"), "fast": ("quickly", "hours"),
    "soon": ("quickly", "hours", "after"), "immediately": ("quickly",), "kick": ("quickly",),
    "takes": ("take",), "sessions": ("infusions",), "session": ("infusion",), "treatments": ("infusions",),
    # safety and side effects
    "safe": ("risks", "side"), "safety": ("risks",), "dangerous": ("risks",), "danger": ("risks",),
    "harmful": ("risks",), "risky": ("risks",), "downside": ("risks", "drawbacks"), "downsides": ("risks", "drawbacks"),
    "vomit": ("nausea",), "puke": ("nausea",), "throw": ("nausea",), "nauseous": ("nausea",), "sick": ("nausea",),
    "queasy": ("nausea",), "pee": ("urinary", "bladder"), "urinate": ("urinary",), "urine": ("urinary",),
    "dizzy": ("dizziness",), "lightheaded": ("dizziness",), "eyesight": ("vision",), "blurry": ("vision",),
    "sight": ("vision",), "hurt": ("pain", "discomfort"), "hurts": ("pain", "discomfort"), "painful": ("discomfort", "pain"),
    "trip": ("hallucinations", "detachment"), "tripping": ("hallucinations",), "hallucinate": ("hallucinations",),
    "disconnected": ("detachment",), "dissociate": ("detachment",), "dissociation": ("detachment",),
    "unconscious": ("awake",), "conscious": ("awake",), "asleep": ("awake",), "sleep": ("awake",),
    "sedated": ("awake",), "knocked": ("awake",), "under": ("awake",),
    "drive": ("drive",), "driving": ("drive",), "ride": ("drive",), "pick": ("drive", "home"),
    "difference": ("improvements", "relief"), "notice": ("experience", "improvements"),
    "results": ("improvements", "relief"), "relief": ("relief", "improvements"),
    # what it is and does
    "iv": ("intravenously", "iv"), "vein": ("intravenously", "vein"), "needle": ("intravenously",),
    "shot": ("intravenously",), "injection": ("intravenously",), "drip": ("infusion",),
    "help": ("effective", "relief", "improve"), "works": ("work",), "effective": ("effective",),
    "conditions": ("conditions", "depression", "anxiety"), "treat": ("treating", "treatment"),
    "horse": ("veterinary",), "animals": ("veterinary",), "animal": ("veterinary",), "vet": ("veterinary",),
    "tranquilizer": ("anesthetic",), "anesthesia": ("anesthetic",), "sedative": ("anesthetic",),
    "old": ("1960s", "decades"), "new": ("new", "recently"), "around": ("since", "decades"),
    "invented": ("1960s",), "history": ("1960s", "decades"),
    "natural": ("synthetic",), "artificial": ("synthetic",), "made": ("synthetic",),
    "affects": ("effects",), "affect": ("effects",),
    "brain": ("brain", "glutamate"), "chemical": ("neurotransmitter", "glutamate"),
    "better": ("improvements", "relief"), "improve": ("improvements", "improve"),
}

# Real words typed for others, which a spelling check cannot catch.
PHRASES: dict[str, str] = {"side affects": "side effects", "side affect": "side effect"}

VAGUE = frozenset(
    """actually actual stuff thing things bad good normal weird whole need needs needed heard hear
    read true really pretty kind sort lot lots bit people someone somebody anyone anybody
    afterwards afterward right away ever even still just way able okay fine worried worry
    wondering wonder curious question questions ask asking exactly basically generally usually
    typically probably maybe possible possibly mean means guess think thought sure last lasts
    friend friends mom dad wife husband partner someone's doctor's idea anymore work's
    info information details detail explain explanation tell told""".split()
)
